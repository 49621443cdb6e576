import { Controller, type DynamicModule, Get, Inject, Module, StreamableFile } from '@nestjs/common';
import type { Registry } from 'prom-client';
import {
  createMetricsRegistry,
  METRICS_REGISTRY,
  type MetricsRegistryOptions,
  TributaryMetrics,
} from './tributary-metrics';

/** `GET /metrics`: the Prometheus text exposition of the app's registry. */
@Controller('metrics')
export class MetricsController {
  constructor(@Inject(METRICS_REGISTRY) private readonly registry: Registry) {}

  @Get()
  async scrape(): Promise<StreamableFile> {
    // A StreamableFile keeps the registry's content type byte for byte (Express would reorder it).
    const body = Buffer.from(await this.registry.metrics(), 'utf8');
    return new StreamableFile(body, { type: this.registry.contentType, length: body.length });
  }
}

export type MetricsModuleOptions = MetricsRegistryOptions;

/**
 * Prometheus metrics for a Nest app: the `/metrics` endpoint, default process metrics and a
 * global {@link TributaryMetrics} (and the registry under {@link METRICS_REGISTRY}) that any
 * module can inject.
 */
@Module({})
export class MetricsModule {
  static forRoot(options: MetricsModuleOptions): DynamicModule {
    return {
      module: MetricsModule,
      global: true,
      controllers: [MetricsController],
      providers: [
        { provide: METRICS_REGISTRY, useFactory: () => createMetricsRegistry(options) },
        TributaryMetrics,
      ],
      exports: [METRICS_REGISTRY, TributaryMetrics],
    };
  }
}
