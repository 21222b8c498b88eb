import { docTest } from './doc-test.js';

docTest('examples/cdc-analytics/README.md', { kcat: false });
