import { type DynamicModule, Module } from '@nestjs/common';
import { ArchiveLifecycleService } from './archive-lifecycle.service';
import { LifecycleController } from './lifecycle.controller';

/** Compaction, retention, snapshots and the deletion of retired objects. */
@Module({})
export class LifecycleModule {
  /** `archive`: the app's `ArchiveModule.forRoot(...)`, whose configuration this module reads. */
  static forRoot(archive: DynamicModule): DynamicModule {
    return {
      module: LifecycleModule,
      imports: [archive],
      controllers: [LifecycleController],
      providers: [ArchiveLifecycleService],
      exports: [ArchiveLifecycleService],
    };
  }
}
