import { type DynamicModule, Module } from '@nestjs/common';
import { ArchiveEpochsController } from '../archive/archive-epochs.controller';
import { HistoryController } from './history.controller';
import { HistoryQueryService } from './history-query.service';

/** The query API: `GET /v1/datasets` and `GET /v1/datasets/:dataset/rows`, over the archive and its buffers. */
@Module({})
export class QueryModule {
  /** `archive`: the app's `ArchiveModule.forRoot(...)` (the same object), whose buffers queries read. */
  static forRoot(archive: DynamicModule): DynamicModule {
    return {
      module: QueryModule,
      imports: [archive],
      // The epochs decision acts on the archive and answers with the catalog's epochs, read as the listing does.
      controllers: [HistoryController, ArchiveEpochsController],
      providers: [HistoryQueryService],
      exports: [HistoryQueryService],
    };
  }
}
