import { Inject, Injectable } from '@nestjs/common';
import { type HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { raceTimeout } from '@tributary/observability';
import type { CdcListenerConfig } from '../../config';
import { CDC_CONFIG, ChangeCaptureService } from './change-capture.service';

/**
 * Readiness of capture: the slot exists, the stream runs, the slot holds less WAL than allowed, and
 * its positions belong to the connected Kafka cluster (or capture took the snapshot again into it).
 */
@Injectable()
export class ReplicationSlotHealthIndicator {
  constructor(
    private readonly indicator: HealthIndicatorService,
    private readonly capture: ChangeCaptureService,
    @Inject(CDC_CONFIG) private readonly config: CdcListenerConfig,
  ) {}

  async isHealthy(key = 'replication'): Promise<HealthIndicatorResult> {
    const check = this.indicator.check(key);
    const slotName = this.config.CDC_SLOT_NAME;
    try {
      const slot = await raceTimeout(this.capture.readSlot(), 3_000, 'replication slot query');
      // The capture's own error (a driver message, possibly naming hosts) stays in the service log
      // ("change capture interrupted"): readiness is open to anyone who reaches the port.
      const { streaming } = this.capture.status;
      const clusters = this.capture.kafkaCluster;
      const details = {
        slot: slotName,
        exists: slot.exists,
        streaming,
        lagBytes: slot.lagBytes,
        // The Kafka cluster the slot's confirmed positions were delivered to, and the one connected to.
        positionsKafkaCluster: clusters.positions,
        kafkaCluster: clusters.connected,
      };
      // The refusal is ours, not a driver's (slot name, cluster IDs, setting): public, as `clusterChange`.
      if (clusters.refusal) return check.down({ ...details, clusterChange: clusters.refusal, message: clusters.refusal });
      if (!slot.exists) return check.down({ ...details, message: `replication slot ${slotName} does not exist` });
      if (!streaming) return check.down({ ...details, message: 'not streaming; the reason is in the service log' });
      if (slot.lagBytes !== null && slot.lagBytes > this.config.CDC_MAX_SLOT_LAG_BYTES) {
        return check.down({ ...details, message: `slot lag ${slot.lagBytes} B exceeds ${this.config.CDC_MAX_SLOT_LAG_BYTES} B` });
      }
      return check.up(details);
    } catch {
      return check.down({ slot: slotName, message: 'the replication slot could not be read; PostgreSQL does not answer' });
    }
  }
}
