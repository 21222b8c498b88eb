import { docTest } from './doc-test.js';

docTest('packages/cli/README.md');
