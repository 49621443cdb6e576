import { Injectable, Logger } from '@nestjs/common';
import type { Principal } from './authenticator';

export interface SecurityEvent {
  /** What happened: `admin-action`, `refused`. */
  readonly event: string;
  /** Who: the key's holder or the token's subject; `anonymous` without a valid credential. */
  readonly principal: string;
  readonly via?: Principal['via'];
  /** What: method and path (no query string, no body). */
  readonly method: string;
  readonly path: string;
  /** The HTTP status answered. */
  readonly status?: number;
  readonly reason?: string;
  readonly remoteAddress?: string;
}

/**
 * The security log: one JSON line per administrative action and per refused request, with who,
 * what and when (the log line's time), under the logger context `security` so a log pipeline can
 * route it to its own retention.
 */
@Injectable()
export class SecurityLog {
  private readonly logger = new Logger('security');

  record(entry: SecurityEvent): void {
    const line = { security: true, ...entry };
    if (entry.event === 'refused') this.logger.warn(line);
    else this.logger.log(line);
  }
}
