import { docTest } from './doc-test.js';

docTest('docs/materialized-views.md');
