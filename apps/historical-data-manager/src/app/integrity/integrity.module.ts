import { type DynamicModule, Module } from '@nestjs/common';
import { ArchiveIntegrityService } from './archive-integrity.service';
import { IntegrityController } from './integrity.controller';

/** Verification of the catalog against the store, the integrity report and repair. */
@Module({})
export class IntegrityModule {
  /** `archive`: the app's `ArchiveModule.forRoot(...)`, whose configuration this module reads. */
  static forRoot(archive: DynamicModule): DynamicModule {
    return {
      module: IntegrityModule,
      imports: [archive],
      controllers: [IntegrityController],
      providers: [ArchiveIntegrityService],
      exports: [ArchiveIntegrityService],
    };
  }
}
