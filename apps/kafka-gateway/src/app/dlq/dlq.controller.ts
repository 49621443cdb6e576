import {
  BadRequestException,
  Body,
  Controller,
  Get,
  HttpCode,
  NotFoundException,
  Param,
  Post,
  Query,
  UseFilters,
  type ArgumentsHost,
  Catch,
  type ExceptionFilter,
} from '@nestjs/common';
import { RequireScope } from '@tributary/service';
import { DeadLetters, type DlqPage, type PurgeReport, type ReplayReport } from './dead-letters';
import { deadLetterTopicOf, DlqRequestError, parseOffset, parseReplaySelection } from './dlq-records';

const DEFAULT_PAGE = 50;
const MAX_PAGE = 500;

/** A request that names something wrong answers 400 with the reason, whatever layer found it. */
@Catch(DlqRequestError)
class DlqRequestErrorFilter implements ExceptionFilter {
  catch(error: DlqRequestError, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<{ status(code: number): { json(body: unknown): void } }>();
    response.status(400).json({ statusCode: 400, error: 'Bad Request', message: error.message });
  }
}

function integerParam(text: string | undefined, name: string, fallback: number, min: number, maxValue: number): number {
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > maxValue) {
    throw new BadRequestException(`${name} must be an integer from ${min} to ${maxValue}, got ${JSON.stringify(text)}`);
  }
  return value;
}

function resolve(topic: string): { topic: string; dlqTopic: string } {
  const resolved = deadLetterTopicOf(topic);
  if (resolved === undefined) throw new NotFoundException(`${topic} is not a catalog topic with a dead-letter topic`);
  return resolved;
}

/**
 * Dead-letter operations: `GET /admin/dlq` (every DLQ with its counts), `GET /admin/dlq/:topic` (a page
 * of records with their reasons and origin), `POST /admin/dlq/:topic/replay` (selected records back to the
 * original topic) and `POST /admin/dlq/:topic/purge` (delete records, only with the DLQ's name as confirmation).
 */
@Controller('admin/dlq')
@RequireScope('admin')
@UseFilters(DlqRequestErrorFilter)
export class DlqController {
  constructor(private readonly deadLetters: DeadLetters) {}

  @Get()
  overview() {
    return this.deadLetters.overview();
  }

  @Get(':topic')
  async page(
    @Param('topic') name: string,
    @Query('partition') partition: string | undefined,
    @Query('offset') offset: string | undefined,
    @Query('limit') limit: string | undefined,
  ): Promise<DlqPage> {
    const { dlqTopic } = resolve(name);
    return this.deadLetters.page(
      dlqTopic,
      integerParam(partition, 'partition', 0, 0, 10_000),
      offset === undefined || offset === '' ? 0n : parseOffset(offset, 'offset'),
      integerParam(limit, 'limit', DEFAULT_PAGE, 1, MAX_PAGE),
    );
  }

  @Post(':topic/replay')
  @HttpCode(200)
  replay(@Param('topic') name: string, @Body() body: unknown): Promise<ReplayReport> {
    const { topic, dlqTopic } = resolve(name);
    return this.deadLetters.replay(dlqTopic, topic, parseReplaySelection(body));
  }

  @Post(':topic/purge')
  @HttpCode(200)
  purge(@Param('topic') name: string, @Body() body: unknown): Promise<PurgeReport> {
    const { dlqTopic } = resolve(name);
    const fields = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    if (fields['confirm'] !== dlqTopic) {
      throw new BadRequestException(`purging deletes records for good: confirm with {"confirm": "${dlqTopic}"}`);
    }
    const partition = fields['partition'] ?? 0;
    if (typeof partition !== 'number' || !Number.isInteger(partition) || partition < 0) {
      throw new BadRequestException(`partition must be a non-negative integer, got ${JSON.stringify(partition)}`);
    }
    const before = fields['beforeOffset'] === undefined ? undefined : parseOffset(fields['beforeOffset'], 'beforeOffset');
    return this.deadLetters.purge(dlqTopic, partition, before);
  }
}
