import { memoryStore } from '../../src/index.ts';
import { describeStoreContract } from './contract.ts';

describeStoreContract('memory', async () => ({ store: memoryStore(), close: async () => {} }));
