import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { RequireScope } from '@tributary/service';
import { answer } from '../query/http-answers';
import { QueryRejection } from '../query/query-parameters';
import { ArchiveIntegrityService } from './archive-integrity.service';
import type { RepairReport } from './archive-repairer';
import type { VerificationReport } from './archive-verifier';

/** The catalog checked against the store: verification, the integrity report, repair. */
@Controller('v1/datasets')
export class IntegrityController {
  constructor(private readonly integrity: ArchiveIntegrityService) {}

  /** `{}` or `{ "deep": true }` (read every object and compare its SHA-256); answers when done with what it found. */
  @Post(':dataset/verify')
  @RequireScope('admin')
  @HttpCode(200)
  async verify(@Param('dataset') dataset: string, @Body() body: unknown): Promise<VerificationReport> {
    return answer(async () => this.integrity.verify(dataset, parseVerifyRequest(body)));
  }

  /** Missing and corrupt files, orphaned objects and gaps as the catalog knows them, with the last verification. */
  @Get(':dataset/integrity')
  @RequireScope('read:archive.integrity')
  async report(
    @Param('dataset') dataset: string,
  ): Promise<Awaited<ReturnType<ArchiveIntegrityService['report']>>> {
    return answer(() => this.integrity.report(dataset));
  }

  /** Archives missing and corrupt files again from Kafka, or records them lost; answers with what it did. */
  @Post(':dataset/repair')
  @RequireScope('admin')
  @HttpCode(200)
  async repair(@Param('dataset') dataset: string): Promise<RepairReport> {
    return answer(() => this.integrity.repair(dataset));
  }
}

function parseVerifyRequest(body: unknown): boolean {
  if (body === undefined || body === null) return false;
  if (typeof body !== 'object' || Array.isArray(body))
    throw new QueryRejection(400, null, 'the body must be a JSON object');
  for (const key of Object.keys(body)) {
    if (key !== 'deep') throw new QueryRejection(400, key, `unknown field "${key}" (known: deep)`);
  }
  const deep = (body as { deep?: unknown }).deep;
  if (deep !== undefined && typeof deep !== 'boolean')
    throw new QueryRejection(400, 'deep', 'deep must be true or false');
  return deep === true;
}
