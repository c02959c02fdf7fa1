import { MemoryResultStore } from '../../lib/adapters/memory';
import { resultStoreContract } from './result-store.contract';

resultStoreContract('memory', () => new MemoryResultStore());
