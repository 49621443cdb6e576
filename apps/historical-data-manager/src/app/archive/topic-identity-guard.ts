import { Logger } from '@nestjs/common';
import type { ClusterIdentity, PartitionOffsets } from '@tributary/kafka';
import { DependencyUnavailableError } from './archive-dependencies';
import { checkTopicIdentity, type IdentityMismatch, type TopicIdentity } from './topic-identity-check';
import { type CurrentEpoch, EpochConflictError, type TopicEpochs } from './topic-epochs';

/** What the guard asks of the cluster (`ClusterAdmin` on the archive's connection). */
export interface ClusterView {
  identity(topics: readonly string[]): Promise<ClusterIdentity>;
  topicOffsets(topic: string): Promise<PartitionOffsets[]>;
}

/** `archiving`: its identity is verified; `awaiting-decision`: stopped until an operator decides; `verifying`: not checked yet. */
export type TopicArchiveStateName = 'verifying' | 'archiving' | 'awaiting-decision';

/** The archive state of one source topic, as readiness and the dataset listing show it. */
export interface TopicArchiveState {
  topic: string;
  dataset: string;
  state: TopicArchiveStateName;
  epoch: number | null;
  /** The identity the current epoch's offsets belong to (null: not recorded yet). */
  stored: TopicIdentity | null;
  /** The cluster's identity when last checked (topicId null: the cluster does not hold the topic). */
  current: { clusterId: string; topicId: string | null } | null;
  /** Why the topic waits for a decision. */
  mismatch: (IdentityMismatch & { since: string }) | null;
}

/** A flush of a topic that waits for an operator's decision: nothing of it is archived or committed. */
export class TopicAwaitingDecisionError extends Error {
  override readonly name = 'TopicAwaitingDecisionError';
}

/** A decision refused: the message says why (409 at the API). */
export class DecisionRefusedError extends Error {}

/** What the guard tells the archive. */
export interface IdentityGuardHooks {
  /** The topic must not be consumed until a decision (pause its fetches; report it). */
  awaiting(state: TopicArchiveState): void;
  /** The topic may be consumed again (`rewindToStart`: from the start of its log, a new epoch). */
  cleared(state: TopicArchiveState, rewindToStart: PartitionOffsets[] | null): void;
}

/**
 * Keeps each archived topic's offsets tied to the Kafka log they came from (see
 * `checkTopicIdentity` for the rules). Checks run at start, when the consumer joins its group
 * (an assignment), every 30 s for topics waiting for a decision, and before every flush: a flush
 * commits only when the cluster still names the topic with the identity of the epoch it writes to.
 * A topic that does not fit stops (`hooks.awaiting`) until the stored identity fits again or an
 * operator decides: a new epoch ({@link newEpoch}) or re-attaching ({@link reattach}).
 */
export class TopicIdentityGuard {
  private readonly log = new Logger('TopicIdentityGuard');
  private readonly states = new Map<string, TopicArchiveState>();
  private readonly checks = new Map<string, Promise<TopicArchiveState>>();

  constructor(
    private readonly epochs: TopicEpochs,
    private readonly cluster: ClusterView,
    datasets: ReadonlyMap<string, string>,
    private readonly hooks: IdentityGuardHooks,
  ) {
    for (const [topic, dataset] of datasets) {
      this.states.set(topic, {
        topic,
        dataset,
        state: 'verifying',
        epoch: null,
        stored: null,
        current: null,
        mismatch: null,
      });
    }
  }

  /** Every topic's state. */
  all(): TopicArchiveState[] {
    return [...this.states.values()].map((s) => ({ ...s }));
  }

  state(topic: string): TopicArchiveState | undefined {
    const state = this.states.get(topic);
    return state && { ...state };
  }

  /** Checks every topic (start, assignment); a topic the cluster cannot be asked about now stays as it was. */
  async checkAll(): Promise<void> {
    await Promise.all(
      [...this.states.keys()].map((topic) =>
        this.check(topic).catch((error: unknown) =>
          this.log.warn(`identity check of ${topic} failed: ${String(error)}`),
        ),
      ),
    );
  }

  /** Checks the topics waiting for a decision again (the cause may have gone, or changed). */
  async checkAwaiting(): Promise<void> {
    const waiting = [...this.states.values()]
      .filter((s) => s.state === 'awaiting-decision')
      .map((s) => s.topic);
    await Promise.all(waiting.map((topic) => this.check(topic).catch(() => undefined)));
  }

  /**
   * The epoch and identity a flush of `topic` writes to: only while the cluster names the topic
   * with the epoch's identity now. Throws {@link TopicAwaitingDecisionError} otherwise (the
   * records are neither archived nor committed, and come again after the decision) and a
   * {@link DependencyUnavailableError} when the cluster cannot be asked.
   */
  async admit(topic: string): Promise<{ epoch: number; identity: TopicIdentity }> {
    let state = this.states.get(topic);
    if (state === undefined) throw new Error(`${topic} is not archived`);
    if (state.state === 'verifying') state = await this.checkOrOutage(topic);
    if (state.state === 'awaiting-decision') throw this.refusal(state);
    const identity = await this.currentIdentity(topic);
    const topicId = identity.topicIds.get(topic) ?? null;
    if (state.stored?.clusterId !== identity.clusterId || state.stored?.topicId !== topicId) {
      state = await this.checkOrOutage(topic);
      if (state.state !== 'archiving') throw this.refusal(state);
    }
    return { epoch: state.epoch as number, identity: state.stored as TopicIdentity };
  }

  /**
   * The operator's decision for a topic waiting for one: a new epoch, archived from the start of
   * the topic's log into new files (the old epoch's files stay and are still read).
   */
  async newEpoch(topic: string, by: string): Promise<TopicArchiveState> {
    const state = await this.check(topic);
    if (state.state !== 'awaiting-decision')
      throw new DecisionRefusedError(`${topic} is ${state.state}; no decision is needed`);
    const current = state.current;
    if (current?.topicId == null)
      throw new DecisionRefusedError(
        `${topic} does not exist on the cluster; create it before starting a new epoch`,
      );
    const identity = { clusterId: current.clusterId, topicId: current.topicId };
    const opened = await this.epochs
      .openNext(topic, state.epoch as number, identity, by)
      .catch((error: unknown) => {
        throw error instanceof EpochConflictError ? new DecisionRefusedError(error.message) : error;
      });
    const logs = await this.cluster.topicOffsets(topic);
    const next = this.settle(topic, opened, current);
    this.log.log(
      `${topic}: epoch ${opened.epoch} opened by ${by} for cluster ${identity.clusterId}, topic ID ${identity.topicId}; archived again from the start of the log`,
    );
    this.hooks.cleared(next, logs);
    return { ...next };
  }

  /**
   * The operator's decision after a verified restore: the current epoch's positions belong to the
   * cluster's identity now. `expected` must be that identity, so a decision taken on an old screen
   * cannot attach the archive to yet another cluster.
   */
  async reattach(topic: string, expected: TopicIdentity, by: string): Promise<TopicArchiveState> {
    const state = await this.check(topic);
    if (state.state !== 'awaiting-decision')
      throw new DecisionRefusedError(`${topic} is ${state.state}; no decision is needed`);
    const current = state.current;
    if (current?.topicId == null) throw new DecisionRefusedError(`${topic} does not exist on the cluster`);
    if (current.clusterId !== expected.clusterId || current.topicId !== expected.topicId) {
      throw new DecisionRefusedError(
        `the cluster names ${topic} as cluster ${current.clusterId}, topic ID ${current.topicId}, not the expected cluster ${expected.clusterId}, topic ID ${expected.topicId}`,
      );
    }
    const identity = { clusterId: current.clusterId, topicId: current.topicId };
    // the positions must fit the log they are attached to, or archiving on would skip records
    const logs = (await this.cluster.topicOffsets(topic)).map((l) => ({
      partition: l.partition,
      low: BigInt(l.low),
      high: BigInt(l.high),
    }));
    const verdict = checkTopicIdentity(
      topic,
      identity,
      current,
      await this.epochs.positions(topic, state.epoch as number),
      logs,
    );
    if (verdict.verdict === 'mismatch') {
      throw new DecisionRefusedError(
        `${verdict.mismatch.reason}; re-attaching would skip records, start a new epoch instead`,
      );
    }
    const attached = await this.epochs
      .reattach(topic, state.epoch as number, identity)
      .catch((error: unknown) => {
        throw error instanceof EpochConflictError ? new DecisionRefusedError(error.message) : error;
      });
    // the positions must fit the log of the adopted identity, or the decision would skip records
    const verified = await this.check(topic);
    if (verified.state === 'archiving') {
      this.log.log(
        `${topic}: epoch ${attached.epoch} re-attached by ${by} to cluster ${identity.clusterId}, topic ID ${identity.topicId}`,
      );
    }
    return verified;
  }

  /** One check of `topic` at a time; concurrent callers share it. */
  check(topic: string): Promise<TopicArchiveState> {
    let running = this.checks.get(topic);
    if (running === undefined) {
      running = this.runCheck(topic).finally(() => this.checks.delete(topic));
      this.checks.set(topic, running);
    }
    return running;
  }

  private async runCheck(topic: string): Promise<TopicArchiveState> {
    const identity = await this.cluster.identity([topic]);
    const current = { clusterId: identity.clusterId, topicId: identity.topicIds.get(topic) ?? null };
    let epoch = await this.epochs.current(topic);
    if (epoch === null) {
      // never archived: the first epoch belongs to the cluster's identity, nothing to ask
      if (current.topicId === null) return this.unverified(topic, current);
      epoch = await this.epochs.openFirst(topic, { clusterId: current.clusterId, topicId: current.topicId });
    }
    const identityFits =
      epoch.identity?.clusterId === current.clusterId && epoch.identity?.topicId === current.topicId;
    const needsLogs = current.topicId !== null && (epoch.identity === null || identityFits);
    const offsets = needsLogs ? await this.cluster.topicOffsets(topic) : null;
    const logs =
      offsets?.map((l) => ({ partition: l.partition, low: BigInt(l.low), high: BigInt(l.high) })) ?? null;
    const positions = needsLogs ? await this.epochs.positions(topic, epoch.epoch) : new Map<number, bigint>();
    const verdict = checkTopicIdentity(topic, epoch.identity, current, positions, logs);
    if (verdict.verdict === 'mismatch') return this.mismatched(topic, epoch, current, verdict.mismatch);
    if (verdict.adopt && current.topicId !== null) {
      const adopted = { clusterId: current.clusterId, topicId: current.topicId };
      await this.epochs.adopt(topic, epoch.epoch, adopted);
      epoch = { ...epoch, identity: adopted };
      this.log.log(
        `${topic}: archived positions fit the log; epoch ${epoch.epoch} adopts cluster ${adopted.clusterId}, topic ID ${adopted.topicId}`,
      );
    }
    for (const gap of verdict.retentionGaps) {
      this.log.warn(
        `${topic}[${gap.partition}]: offsets ${gap.from}..${gap.to - 1n} left the log (retention) before they were archived`,
      );
    }
    const previous = { ...(this.states.get(topic) as TopicArchiveState) };
    const next = this.settle(topic, epoch, current);
    if (previous.state === 'awaiting-decision') {
      // another instance's decision opened a new epoch: this one reads its partitions from the start too
      const newEpoch = previous.epoch !== epoch.epoch;
      this.log.log(
        `${topic}: ${newEpoch ? `epoch ${epoch.epoch} was opened` : `its identity fits epoch ${epoch.epoch} again`}; archiving resumes`,
      );
      this.hooks.cleared(next, newEpoch ? offsets : null);
    }
    return { ...next };
  }

  private settle(
    topic: string,
    epoch: CurrentEpoch,
    current: TopicArchiveState['current'],
  ): TopicArchiveState {
    const state = this.states.get(topic) as TopicArchiveState;
    Object.assign(state, {
      state: 'archiving',
      epoch: epoch.epoch,
      stored: epoch.identity,
      current,
      mismatch: null,
    });
    return state;
  }

  private unverified(topic: string, current: TopicArchiveState['current']): TopicArchiveState {
    const state = this.states.get(topic) as TopicArchiveState;
    state.current = current;
    return { ...state };
  }

  private mismatched(
    topic: string,
    epoch: CurrentEpoch,
    current: TopicArchiveState['current'],
    mismatch: IdentityMismatch,
  ): TopicArchiveState {
    const state = this.states.get(topic) as TopicArchiveState;
    const same =
      state.state === 'awaiting-decision' &&
      state.mismatch?.kind === mismatch.kind &&
      state.current?.clusterId === current?.clusterId &&
      state.current?.topicId === current?.topicId &&
      state.epoch === epoch.epoch;
    Object.assign(state, {
      state: 'awaiting-decision',
      epoch: epoch.epoch,
      stored: epoch.identity,
      current,
      mismatch: { ...mismatch, since: same ? (state.mismatch?.since as string) : new Date().toISOString() },
    });
    if (!same) {
      this.log.error(
        `${topic} (dataset ${state.dataset}) stopped, waiting for a decision (POST /v1/datasets/${state.dataset}/epochs): ${mismatch.reason}`,
      );
    }
    this.hooks.awaiting({ ...state });
    return { ...state };
  }

  private refusal(state: TopicArchiveState): TopicAwaitingDecisionError {
    return new TopicAwaitingDecisionError(
      state.mismatch
        ? `${state.topic} waits for a decision: ${state.mismatch.reason}`
        : `${state.topic} is not verified yet`,
    );
  }

  private async checkOrOutage(topic: string): Promise<TopicArchiveState> {
    try {
      return await this.check(topic);
    } catch (error) {
      throw new DependencyUnavailableError('kafka', error);
    }
  }

  /** Asked afresh for every flush: an answer read before the flush's records arrived could predate a re-created topic. */
  private async currentIdentity(topic: string): Promise<ClusterIdentity> {
    try {
      return await this.cluster.identity([topic]);
    } catch (error) {
      throw new DependencyUnavailableError('kafka', error);
    }
  }
}
