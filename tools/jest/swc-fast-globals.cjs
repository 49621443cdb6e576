// Jest transform: @swc/jest, then one statement in front of every module that copies the built-in
// objects hot code touches into module-scoped constants. Jest runs each test file in a `vm` context,
// where every lookup of a global such as `Math` or `Map` goes through the context's global proxy and
// costs about a hundred times what it does in plain Node; CPU-heavy tests (the simulator, the CEP
// engine) spent most of their time there. A module-scoped constant is an ordinary local lookup.
// The copies are the same objects (spies on `Math.random` still apply); what Jest's fake timers
// replace (Date, timers, performance, process) is left out, so fake timers keep working.
const { createTransformer } = require('@swc/jest');

const BUILT_INS = [
  'Math', 'JSON', 'Number', 'String', 'Boolean', 'Object', 'Array', 'Map', 'Set', 'WeakMap', 'WeakSet',
  'BigInt', 'Symbol', 'Error', 'TypeError', 'RangeError', 'ArrayBuffer', 'DataView',
  'Uint8Array', 'Int32Array', 'Uint32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array', 'Buffer',
];
// One line, prepended to the first line of the output, so source-map line numbers stay exact.
const PROLOGUE = `const { ${BUILT_INS.join(', ')} } = globalThis;`;

module.exports = {
  createTransformer(swcOptions) {
    const swc = createTransformer(swcOptions);
    const withPrologue = (result) => {
      const output = typeof result === 'string' ? { code: result } : result;
      const code = output.code.startsWith('"use strict";')
        ? `"use strict";${PROLOGUE}${output.code.slice('"use strict";'.length)}`
        : `${PROLOGUE}${output.code}`;
      return { ...output, code };
    };
    return {
      ...swc,
      process: (src, filename, options) => withPrologue(swc.process(src, filename, options)),
      processAsync: async (src, filename, options) => withPrologue(await swc.processAsync(src, filename, options)),
      getCacheKey: (src, filename, ...rest) => `${swc.getCacheKey(src, filename, ...rest)}:fast-globals-1`,
    };
  },
};
