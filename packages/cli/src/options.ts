/**
 * `kch broker` options: every option has a flag, a KCH_* environment variable and a key in the JSON
 * config file (`--config <file>`). Precedence: flags, then the environment, then the file, then the
 * defaults. All are validated with zod, and a wrong value gets a message naming where it came from
 * and what is expected.
 *
 * The parts, each with one job (./broker-options): the table of options and the usage text
 * (table.ts), `--storage` specs (storage-spec.ts), value types (values.ts), the schema of the merged
 * options (schema.ts), where values come from and the config file (sources.ts), and the merging
 * (resolve.ts). This module is what the commands and tests import.
 */

export { isLoopback, type ResolvedOptions, resolveBrokerOptions } from './broker-options/resolve.js';
export { type BrokerCommandOptions, brokerCommandSchema } from './broker-options/schema.js';
export { OptionsError, readConfigFile } from './broker-options/sources.js';
export {
  DEFAULT_DATA_DIR,
  DEFAULT_STORAGE,
  parseStorageSpec,
  type StorageSpec,
} from './broker-options/storage-spec.js';
export {
  BROKER_OPTIONS,
  DEFAULT_ADMIN_PORT,
  DEFAULT_KAFKA_PORT,
  optionsUsage,
} from './broker-options/table.js';
