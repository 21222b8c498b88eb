import { docTest } from './doc-test.js';

// Certificates made with openssl, kcat and confluent-kafka (Debian's python3) as clients; the broker
// restarts a few times (docs/security.md's `doc-test: broker` directives).
docTest('docs/security.md', { python: true, openssl: true, timeoutMs: 480_000 });
