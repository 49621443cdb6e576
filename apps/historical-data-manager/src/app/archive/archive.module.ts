import { type DynamicModule, Module } from '@nestjs/common';
import type { HistoricalDataManagerConfig } from '../../config';
import { resolveArchivedTopics } from './archived-topics';
import { topicArchiveListener } from './topic-archive.listener';
import { ARCHIVE_CONFIG, ARCHIVED_TOPICS, TopicArchiveService } from './topic-archive.service';

/** The archive: consumes `ARCHIVE_TOPICS` into Parquet on S3 with the catalog in PostgreSQL. */
@Module({})
export class ArchiveModule {
  static forRoot(config: HistoricalDataManagerConfig): DynamicModule {
    const topics = resolveArchivedTopics(config.ARCHIVE_TOPICS);
    return {
      module: ArchiveModule,
      controllers: [...(topics.length > 0 ? [topicArchiveListener(topics.map((t) => t.dataset.topic))] : [])],
      providers: [
        { provide: ARCHIVE_CONFIG, useValue: config },
        { provide: ARCHIVED_TOPICS, useValue: topics },
        TopicArchiveService,
      ],
      exports: [TopicArchiveService, ARCHIVE_CONFIG],
    };
  }
}
