import { docTest } from './doc-test.js';

docTest('README.md');
