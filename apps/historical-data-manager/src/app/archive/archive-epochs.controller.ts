import { Body, Controller, HttpCode, Param, Post, Req } from '@nestjs/common';
import { RequireScope } from '@tributary/service';
import { HistoryQueryService } from '../query/history-query.service';
import { answer } from '../query/http-answers';
import { QueryRejection } from '../query/query-parameters';
import { type EpochDecision, TopicArchiveService } from './topic-archive.service';
import type { EpochListing } from './topic-epochs';
import { DecisionRefusedError, type TopicArchiveState } from './topic-identity-guard';

/** What `POST /v1/datasets/:dataset/epochs` answers: the topic's state after the decision and its epochs. */
export interface EpochDecisionAnswer {
  dataset: string;
  topic: string;
  state: TopicArchiveState['state'];
  epoch: number | null;
  epochs: EpochListing[];
}

/**
 * `{ "action": "new-epoch" }` or `{ "action": "reattach", "kafkaClusterId", "kafkaTopicId" }`; 400
 * names the field that is wrong.
 */
export function parseEpochDecision(body: unknown): EpochDecision {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new QueryRejection(
      400,
      null,
      'the body must be a JSON object: { "action": "new-epoch" } or { "action": "reattach", "kafkaClusterId", "kafkaTopicId" }',
    );
  }
  const fields = body as Record<string, unknown>;
  const action = fields['action'];
  const allowed = action === 'reattach' ? ['action', 'kafkaClusterId', 'kafkaTopicId'] : ['action'];
  for (const key of Object.keys(fields)) {
    if (!allowed.includes(key))
      throw new QueryRejection(400, key, `unknown field "${key}" for action ${JSON.stringify(action)}`);
  }
  if (action === 'new-epoch') return { action };
  if (action !== 'reattach')
    throw new QueryRejection(400, 'action', 'action must be "new-epoch" or "reattach"');
  const text = (name: string): string => {
    const value = fields[name];
    if (typeof value !== 'string' || value.length === 0 || value.length > 64) {
      throw new QueryRejection(
        400,
        name,
        `${name} must name the identity expected now (the "current" one readiness shows)`,
      );
    }
    return value;
  };
  return { action, expected: { clusterId: text('kafkaClusterId'), topicId: text('kafkaTopicId') } };
}

/**
 * The operator's decision for an archived topic whose offsets no longer fit the cluster's log (the
 * topic was re-created, the brokers belong to another cluster, positions beyond the log's end): a
 * new epoch, archived from the start of the log into new files with the old ones kept, or
 * re-attaching the current epoch to the cluster's identity after a verified restore.
 */
@Controller('v1/datasets')
export class ArchiveEpochsController {
  constructor(
    private readonly archive: TopicArchiveService,
    private readonly history: HistoryQueryService,
  ) {}

  @Post(':dataset/epochs')
  @RequireScope('admin')
  @HttpCode(200)
  async decide(
    @Param('dataset') dataset: string,
    @Body() body: unknown,
    @Req() request: { principal?: { name?: string } },
  ): Promise<EpochDecisionAnswer> {
    return answer(async () => {
      const decision = parseEpochDecision(body);
      const state = this.archive.datasetState(dataset);
      if (state === undefined)
        throw new QueryRejection(404, null, `dataset ${dataset} is not archived by this instance`);
      let after: TopicArchiveState;
      try {
        after = await this.archive.decide(dataset, decision, request.principal?.name ?? 'unknown');
      } catch (error) {
        if (error instanceof DecisionRefusedError) throw new QueryRejection(409, 'action', error.message);
        throw error;
      }
      const epochs = await this.history.epochsOfTopic(after.topic);
      return { dataset, topic: after.topic, state: after.state, epoch: after.epoch, epochs };
    });
  }
}
