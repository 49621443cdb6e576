import { Controller, Get, NotFoundException, Param } from '@nestjs/common';
import { type ChainView, type CollectorStatus, OptionsCollector } from './options-collector';
import { Authenticated, RequireScope } from '@tributary/service';

/** The collected chains and the state of the collection, over HTTP. */
@Controller()
export class CollectorController {
  constructor(private readonly collector: OptionsCollector) {}

  /** The selected chain of an underlying now, with IV and Greeks from each contract's mid. */
  @Get('chains/:underlying')
  @RequireScope('read:options.chains')
  chain(@Param('underlying') underlying: string): ChainView {
    const symbol = underlying.toUpperCase();
    const chain = this.collector.chain(symbol);
    if (!chain) {
      throw new NotFoundException(
        `${symbol} is not collected; the underlyings are ${Object.keys(this.collector.status().underlyings).join(', ')}`,
      );
    }
    return chain;
  }

  /** Source, subscriptions per underlying, rate, last event time and counts published. */
  @Get('status')
  @Authenticated()
  status(): CollectorStatus {
    return this.collector.status();
  }
}
