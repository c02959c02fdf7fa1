import { MemoryEventPublisher } from '../../lib/adapters/memory';
import { eventPublisherContract } from './event-publisher.contract';

eventPublisherContract('memory', () => {
  const publisher = new MemoryEventPublisher();
  return { publisher, received: () => publisher.events };
});
