import { fakeClock, MemoryBroker } from '../../lib/adapters/memory';
import { brokerContract } from './broker.contract';

let n = 0;

brokerContract('memory', () => {
  const clock = fakeClock();
  const broker = new MemoryBroker({ clock });
  return {
    broker,
    async newQueue(opts) {
      const name = `q${++n}`;
      if (opts?.maxReceiveCount === undefined) return { name };
      broker.configureQueue(name, { redrive: { queue: `${name}-dlq`, maxReceiveCount: opts.maxReceiveCount } });
      return { name, dlq: `${name}-dlq` };
    },
    elapse: (ms) => clock.advance(ms),
    now: () => clock.now(),
  };
});
