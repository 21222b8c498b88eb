import { docTest } from './doc-test.js';

docTest('examples/produce-and-query/README.md', { kcat: false });
