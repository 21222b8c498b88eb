import { docTest } from './doc-test.js';

// A transactional producer through confluent-kafka (Debian's python3), SQL and `kch consume`.
docTest('docs/transactions.md', { python: true, kcat: false });
