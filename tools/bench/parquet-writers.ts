/**
 * Parquet writers for the historical archive, measured against the archive's requirements.
 *
 * For a realistic trade schema (symbol, price, size, exchange, trade id, conditions, epoch-ns event
 * time, Kafka partition and offset, and a sequence number above 2^60) each candidate writes the
 * same rows; every file is then read back by DuckDB and by hyparquet (an independent reader) and
 * compared value by value. Reported per candidate: rows/s written, file size, codec, whether INT64
 * values above 2^53 came back exactly, column statistics, dictionary pages, data page version,
 * timestamp logical type.
 *
 *   SWC_NODE_PROJECT=tsconfig.base.json node -r @swc-node/register tools/bench/parquet-writers.ts
 *
 * Candidates that are not dependencies of the workspace are loaded from PARQUET_CANDIDATES_DIR
 * (a folder with its own node_modules, e.g. `npm install --prefix /tmp/pq @dsnp/parquetjs@1.8
 * hyparquet-writer parquet-wasm @bokuweb/zstd-wasm`); a candidate that cannot be loaded is reported as skipped.
 * Rows: BENCH_ROWS (default 500000); BENCH_ONLY=<part of a name> runs only matching candidates. Results: bench-results/parquet-writers.json.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Loose = any;

const ROWS = Number(process.env['BENCH_ROWS'] ?? 500_000);
const REPEATS = 3;
const workspace = process.cwd();
const candidatesDir = process.env['PARQUET_CANDIDATES_DIR'];

function load(name: string): Loose {
  for (const base of [workspace, candidatesDir].filter((d): d is string => !!d)) {
    try {
      return createRequire(join(base, 'package.json'))(name);
    } catch {
      /* next place */
    }
  }
  throw new Error(`${name} is not installed (see PARQUET_CANDIDATES_DIR)`);
}

// A native import(), kept as such by the CommonJS transpilation (hyparquet ships ES modules only).
const importEsm = new Function('specifier', 'return import(specifier)') as (s: string) => Promise<Loose>;
async function loadEsm(name: string): Promise<Loose> {
  for (const base of [workspace, candidatesDir].filter((d): d is string => !!d)) {
    try {
      const path = createRequire(join(base, 'package.json')).resolve(name);
      return await importEsm(path);
    } catch {
      /* next place */
    }
  }
  throw new Error(`${name} is not installed`);
}

// ---------------------------------------------------------------- the rows

interface Trades {
  symbol: string[];
  price: Float64Array;
  size: BigInt64Array;
  exchange: string[];
  trade_id: string[];
  conditions: string[];
  ts: BigInt64Array; // epoch ns
  kafka_partition: Int32Array;
  kafka_offset: BigInt64Array;
  seq: BigInt64Array; // 2^60 + i: beyond any double's exact range
}

function makeTrades(n: number): Trades {
  const symbols = Array.from({ length: 40 }, (_, i) => `SYM${String(i).padStart(2, '0')}`);
  const exchanges = ['Q', 'N', 'P', 'Z', 'K', 'V'];
  const conds = ['', '@', '@ I', 'F', '@ T'];
  const t0 = 1_767_225_600_123_456_789n; // 2026-01-01T00:00:00.123456789Z
  let seed = 42;
  const rnd = () => ((seed = (seed * 1_103_515_245 + 12_345) >>> 0) / 2 ** 32);
  const t: Trades = {
    symbol: new Array(n),
    price: new Float64Array(n),
    size: new BigInt64Array(n),
    exchange: new Array(n),
    trade_id: new Array(n),
    conditions: new Array(n),
    ts: new BigInt64Array(n),
    kafka_partition: new Int32Array(n),
    kafka_offset: new BigInt64Array(n),
    seq: new BigInt64Array(n),
  };
  for (let i = 0; i < n; i++) {
    const s = Math.floor(rnd() * symbols.length);
    t.symbol[i] = symbols[s] as string;
    t.price[i] = Math.round((100 + s * 7.31 + rnd() * 2) * 100) / 100;
    t.size[i] = BigInt(1 + Math.floor(rnd() * 500));
    t.exchange[i] = exchanges[Math.floor(rnd() * exchanges.length)] as string;
    t.trade_id[i] = `T${1_000_000_000 + i}`;
    t.conditions[i] = conds[Math.floor(rnd() * conds.length)] as string;
    t.ts[i] = t0 + BigInt(i) * 7_211n + BigInt(i % 997); // odd nanoseconds: lossy writers show it
    t.kafka_partition[i] = s % 12;
    t.kafka_offset[i] = 9_007_199_254_740_993n + BigInt(i); // 2^53 + 1 + i
    t.seq[i] = (1n << 60n) + BigInt(i) * 3n + 1n;
  }
  return t;
}

const COLUMNS = ['symbol', 'price', 'size', 'exchange', 'trade_id', 'conditions', 'ts', 'kafka_partition', 'kafka_offset', 'seq'] as const;

// ---------------------------------------------------------------- candidates

interface Candidate {
  name: string;
  codec: string;
  /** writes `t` to `file` */
  write(t: Trades, file: string): Promise<void> | void;
}

function parquetjsCandidate(name: string, pkg: string, codec: string): Candidate {
  return {
    name,
    codec,
    async write(t, file) {
      const parquet = load(pkg);
      const c = { compression: codec };
      const schema = new parquet.ParquetSchema({
        symbol: { type: 'UTF8', ...c },
        price: { type: 'DOUBLE', ...c },
        size: { type: 'INT64', ...c },
        exchange: { type: 'UTF8', ...c },
        trade_id: { type: 'UTF8', ...c },
        conditions: { type: 'UTF8', ...c },
        ts: { type: 'INT64', ...c }, // no TIMESTAMP(NANOS) type: plain INT64
        kafka_partition: { type: 'INT32', ...c },
        kafka_offset: { type: 'INT64', ...c },
        seq: { type: 'INT64', ...c },
      });
      const writer = await parquet.ParquetWriter.openFile(schema, file, { rowGroupSize: 100_000 });
      for (let i = 0; i < t.symbol.length; i++) {
        await writer.appendRow({
          symbol: t.symbol[i],
          price: t.price[i],
          size: t.size[i],
          exchange: t.exchange[i],
          trade_id: t.trade_id[i],
          conditions: t.conditions[i],
          ts: t.ts[i],
          kafka_partition: t.kafka_partition[i],
          kafka_offset: t.kafka_offset[i],
          seq: t.seq[i],
        });
      }
      await writer.close();
    },
  };
}

function hyparquetWriterCandidate(codec: 'SNAPPY' | 'ZSTD'): Candidate {
  return {
    name: 'hyparquet-writer',
    codec,
    async write(t, file) {
      const { parquetWriteBuffer } = await loadEsm('hyparquet-writer');
      const compressors: Record<string, (b: Uint8Array) => Uint8Array> = {};
      if (codec === 'ZSTD') {
        const zstd = load('@bokuweb/zstd-wasm');
        await zstd.init();
        compressors['ZSTD'] = (b) => zstd.compress(b, 3);
      }
      const buf: ArrayBuffer = parquetWriteBuffer({
        codec,
        compressors,
        rowGroupSize: 100_000,
        columnData: [
          { name: 'symbol', data: t.symbol },
          { name: 'price', data: t.price },
          { name: 'size', data: t.size },
          { name: 'exchange', data: t.exchange },
          { name: 'trade_id', data: t.trade_id },
          { name: 'conditions', data: t.conditions },
          { name: 'ts', data: t.ts },
          { name: 'kafka_partition', data: t.kafka_partition },
          { name: 'kafka_offset', data: t.kafka_offset },
          { name: 'seq', data: t.seq },
        ],
        schema: [
          { name: 'root', num_children: 10 },
          { name: 'symbol', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
          { name: 'price', type: 'DOUBLE', repetition_type: 'REQUIRED' },
          { name: 'size', type: 'INT64', repetition_type: 'REQUIRED' },
          { name: 'exchange', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
          { name: 'trade_id', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
          { name: 'conditions', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
          {
            name: 'ts',
            type: 'INT64',
            repetition_type: 'REQUIRED',
            logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'NANOS' },
          },
          { name: 'kafka_partition', type: 'INT32', repetition_type: 'REQUIRED' },
          { name: 'kafka_offset', type: 'INT64', repetition_type: 'REQUIRED' },
          { name: 'seq', type: 'INT64', repetition_type: 'REQUIRED' },
        ],
      });
      writeFileSync(file, new Uint8Array(buf));
    },
  };
}

function parquetWasmCandidate(codec: 'SNAPPY' | 'ZSTD'): Candidate {
  return {
    name: 'parquet-wasm + apache-arrow',
    codec,
    write(t, file) {
      const arrow = load('apache-arrow');
      const pw = load('parquet-wasm');
      const vectors = {
        symbol: arrow.vectorFromArray(t.symbol, new arrow.Utf8()),
        price: arrow.makeVector(t.price),
        size: arrow.makeVector(t.size),
        exchange: arrow.vectorFromArray(t.exchange, new arrow.Utf8()),
        trade_id: arrow.vectorFromArray(t.trade_id, new arrow.Utf8()),
        conditions: arrow.vectorFromArray(t.conditions, new arrow.Utf8()),
        ts: arrow.makeVector({ type: new arrow.TimestampNanosecond('UTC'), data: t.ts }),
        kafka_partition: arrow.makeVector(t.kafka_partition),
        kafka_offset: arrow.makeVector(t.kafka_offset),
        seq: arrow.makeVector(t.seq),
      };
      const table = new arrow.Table(vectors);
      const props = new pw.WriterPropertiesBuilder()
        .setCompression(codec === 'ZSTD' ? pw.Compression.ZSTD : pw.Compression.SNAPPY)
        .setDictionaryEnabled(true)
        .setStatisticsEnabled(pw.EnabledStatistics.Chunk)
        .setWriterVersion(pw.WriterVersion.V1)
        .setMaxRowGroupSize(100_000)
        .build();
      const wasmTable = pw.Table.fromIPCStream(arrow.tableToIPC(table, 'stream'));
      writeFileSync(file, pw.writeParquet(wasmTable, props));
    },
  };
}

function duckdbCandidate(codec: 'SNAPPY' | 'ZSTD'): Candidate {
  return {
    name: 'DuckDB (@duckdb/node-api) appender + COPY',
    codec,
    async write(t, file) {
      const duck = load('@duckdb/node-api');
      const instance = await duck.DuckDBInstance.create(':memory:');
      const conn = await instance.connect();
      try {
        await conn.run(
          `CREATE TEMP TABLE batch (symbol VARCHAR, price DOUBLE, size BIGINT, exchange VARCHAR, trade_id VARCHAR,
             conditions VARCHAR, ts BIGINT, kafka_partition INTEGER, kafka_offset BIGINT, seq BIGINT)`,
        );
        const appender = await conn.createAppender('batch');
        for (let i = 0; i < t.symbol.length; i++) {
          appender.appendVarchar(t.symbol[i]);
          appender.appendDouble(t.price[i]);
          appender.appendBigInt(t.size[i]);
          appender.appendVarchar(t.exchange[i]);
          appender.appendVarchar(t.trade_id[i]);
          appender.appendVarchar(t.conditions[i]);
          appender.appendBigInt(t.ts[i]);
          appender.appendInteger(t.kafka_partition[i]);
          appender.appendBigInt(t.kafka_offset[i]);
          appender.appendBigInt(t.seq[i]);
          appender.endRow();
        }
        appender.closeSync();
        await conn.run(
          `COPY (SELECT * REPLACE (make_timestamp_ns(ts) AS ts) FROM batch)
             TO '${file}' (FORMAT parquet, COMPRESSION ${codec.toLowerCase()}${codec === 'ZSTD' ? ', COMPRESSION_LEVEL 1' : ''}, ROW_GROUP_SIZE 100000)`,
        );
      } finally {
        conn.closeSync();
        instance.closeSync();
      }
    },
  };
}

// ---------------------------------------------------------------- readers and checks

const expectedRow = (t: Trades, i: number): string[] => [
  t.symbol[i] as string,
  String(t.price[i]),
  String(t.size[i]),
  t.exchange[i] as string,
  t.trade_id[i] as string,
  t.conditions[i] as string,
  String(t.ts[i]),
  String(t.kafka_partition[i]),
  String(t.kafka_offset[i]),
  String(t.seq[i]),
];

interface FileFacts {
  duckdbMismatches: number;
  hyparquetMismatches: number;
  firstMismatch?: string;
  tsType: string;
  codecs: string[];
  statistics: boolean;
  dictionaryPages: boolean;
  dataPageV1: boolean;
}

let duckConn: Loose;
async function duckdb(): Promise<Loose> {
  if (!duckConn) {
    const duck = load('@duckdb/node-api');
    duckConn = await (await duck.DuckDBInstance.create(':memory:')).connect();
  }
  return duckConn;
}


async function inspect(file: string, t: Trades): Promise<FileFacts> {
  const conn = await duckdb();
  // epoch_ns() keeps a TIMESTAMP_NS exact; a plain BIGINT column comes back as is
  const schemaRows = (await conn.runAndReadAll(`SELECT name, type, logical_type FROM parquet_schema('${file}')`)).getRowObjectsJS();
  const tsSchema = schemaRows.find((r: Loose) => r.name === 'ts');
  const tsType = `${tsSchema?.type}${tsSchema?.logical_type ? ` ${tsSchema.logical_type}` : ''}`;
  const tsIsTimestamp = String(tsSchema?.logical_type ?? '').includes('Timestamp');
  const sql = `SELECT symbol, price::VARCHAR, size::VARCHAR, exchange, trade_id, conditions,
      ${tsIsTimestamp ? 'epoch_ns(ts)' : 'ts'}::VARCHAR, kafka_partition::VARCHAR, kafka_offset::VARCHAR, seq::VARCHAR
    FROM read_parquet('${file}')`;
  const rows: string[][] = (await conn.runAndReadAll(sql)).getRowsJS().map((r: Loose[]) => r.map((v) => String(v)));
  let duckdbMismatches = Math.abs(rows.length - t.symbol.length);
  let firstMismatch: string | undefined;
  for (let i = 0; i < Math.min(rows.length, t.symbol.length); i++) {
    const exp = expectedRow(t, i);
    const got = rows[i] as string[];
    exp[1] = String(Number(exp[1])); // DuckDB prints doubles in shortest form, like JS
    got[1] = String(Number(got[1]));
    if (exp.join('|') !== got.join('|')) {
      duckdbMismatches++;
      firstMismatch ??= `row ${i}: expected ${exp.join('|')} got ${got.join('|')}`;
    }
  }
  const meta = (
    await conn.runAndReadAll(
      `SELECT path_in_schema, compression, stats_min_value IS NOT NULL AS has_stats, encodings,
              dictionary_page_offset IS NOT NULL AS has_dict
         FROM parquet_metadata('${file}')`,
    )
  ).getRowObjectsJS();
  const codecs = [...new Set(meta.map((m: Loose) => String(m.compression)))] as string[];
  const statistics = meta.every((m: Loose) => m.has_stats);
  const dictionaryPages = meta.some((m: Loose) => m.has_dict);

  // the second reader: hyparquet, pure JavaScript, shares no code with any writer here
  const hyparquet = await loadEsm('hyparquet');
  const compressors = await loadEsm('hyparquet-compressors').then((m) => m.compressors).catch(() => undefined);
  const bytes = readFileSync(file);
  const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const metadata = hyparquet.parquetMetadata(ab);
  const dataPageV1 = metadata.row_groups.every((rg: Loose) =>
    rg.columns.every((c: Loose) => (c.meta_data.encoding_stats ?? []).every((s: Loose) => s.page_type !== 'DATA_PAGE_V2')),
  );
  let hyparquetMismatches = 0;
  try {
    const hyRows: Loose[] = await hyparquet.parquetReadObjects({
      file: ab,
      compressors,
      utf8: true,
      parsers: {
        timestampFromMilliseconds: (v: bigint) => v * 1_000_000n,
        timestampFromMicroseconds: (v: bigint) => v * 1000n,
        timestampFromNanoseconds: (v: bigint) => v,
      },
    });
    hyparquetMismatches = Math.abs(hyRows.length - t.symbol.length);
    for (let i = 0; i < Math.min(hyRows.length, t.symbol.length); i++) {
      const r = hyRows[i];
      const got = COLUMNS.map((c) => String(r[c]));
      const exp = expectedRow(t, i);
      if (exp.join('|') !== got.join('|')) {
        hyparquetMismatches++;
        firstMismatch ??= `hyparquet row ${i}: expected ${exp.join('|')} got ${got.join('|')}`;
      }
    }
  } catch (e) {
    hyparquetMismatches = t.symbol.length;
    firstMismatch ??= `hyparquet cannot read: ${(e as Error).message}`;
  }
  return { duckdbMismatches, hyparquetMismatches, firstMismatch, tsType, codecs, statistics, dictionaryPages, dataPageV1 };
}

// ---------------------------------------------------------------- run

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'parquet-writers-'));
  const trades = makeTrades(ROWS);
  const candidates: Candidate[] = [
    parquetjsCandidate('parquetjs-lite', 'parquetjs-lite', 'SNAPPY'),
    parquetjsCandidate('@dsnp/parquetjs', '@dsnp/parquetjs', 'SNAPPY'),
    hyparquetWriterCandidate('SNAPPY'),
    hyparquetWriterCandidate('ZSTD'),
    parquetWasmCandidate('SNAPPY'),
    parquetWasmCandidate('ZSTD'),
    duckdbCandidate('SNAPPY'),
    duckdbCandidate('ZSTD'),
  ];
  const results: Record<string, unknown>[] = [];
  console.log(`${ROWS} trade rows, 10 columns, best of ${REPEATS} writes; every file read back by DuckDB and hyparquet\n`);
  const only = process.env['BENCH_ONLY'];
  for (const c of candidates.filter((x) => !only || x.name.includes(only))) {
    const label = `${c.name} [${c.codec}]`;
    const file = join(dir, `${results.length}.parquet`);
    try {
      let best = Infinity;
      for (let r = 0; r < REPEATS; r++) {
        const start = process.hrtime.bigint();
        await c.write(trades, file);
        best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e9);
      }
      const bytes = readFileSync(file).byteLength;
      const facts = await inspect(file, trades);
      const rowsPerSecond = Math.round(ROWS / best);
      results.push({ candidate: c.name, codec: c.codec, rowsPerSecond, seconds: best, bytes, ...facts });
      console.log(
        `${label.padEnd(52)} ${String(rowsPerSecond).padStart(9)} rows/s  ${(bytes / 1e6).toFixed(1).padStart(6)} MB  ` +
          `exact(duckdb/hyparquet): ${facts.duckdbMismatches === 0 ? 'yes' : `NO (${facts.duckdbMismatches} rows differ)`}/` +
          `${facts.hyparquetMismatches === 0 ? 'yes' : `NO (${facts.hyparquetMismatches})`}  ` +
          `ts: ${facts.tsType}  codecs: ${facts.codecs.join(',')}  stats: ${facts.statistics}  dict: ${facts.dictionaryPages}  v1 pages: ${facts.dataPageV1}`,
      );
      if (facts.firstMismatch) console.log(`${''.padEnd(52)} first difference: ${facts.firstMismatch}`);
    } catch (e) {
      results.push({ candidate: c.name, codec: c.codec, skipped: (e as Error).message });
      console.log(`${label.padEnd(52)} skipped: ${(e as Error).message}`);
    }
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(workspace, 'bench-results'), { recursive: true });
  writeFileSync(
    join(workspace, 'bench-results', 'parquet-writers.json'),
    JSON.stringify({ rows: ROWS, target: { rowsPerSecond: 500_000 }, results }, null, 2),
  );
  console.log('\nwritten bench-results/parquet-writers.json');
}

void main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
