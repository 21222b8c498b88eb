import { describe, expect, it } from 'vitest';
import { ArgumentError, nearest, parseArguments } from '../src/args.js';

const OPTIONS = {
  'shift-by': { type: 'string' },
  offset: { type: 'string', short: 'o' },
  partition: { type: 'string', short: 'p', multiple: true },
  group: { type: 'string', short: 'g' },
  'from-beginning': { type: 'boolean' },
  'bootstrap-server': { type: 'string', short: 'b' },
  port: { type: 'string' },
  verbose: { type: 'boolean', short: 'v' },
} as const;

function errorOf(args: string[]): string {
  try {
    parseArguments(args, OPTIONS);
  } catch (e) {
    expect(e).toBeInstanceOf(ArgumentError);
    return (e as Error).message;
  }
  throw new Error(`${JSON.stringify(args)} parsed`);
}

describe('command-line arguments', () => {
  it('takes a negative number after an option as its value, as Kafka tools and kcat do', () => {
    const { values, positionals } = parseArguments(
      ['reset', '--shift-by', '-10', '-o', '-5', '-p', '-1', '--partition', '2', 'g1'],
      OPTIONS,
    );
    expect(values).toEqual({ 'shift-by': '-10', offset: '-5', partition: ['-1', '2'] });
    expect(positionals).toEqual(['reset', 'g1']);
    expect(parseArguments(['--shift-by=-3', '--offset', '-2.5'], OPTIONS).values).toEqual({
      'shift-by': '-3',
      offset: '-2.5',
    });
    // After `--`, everything is a positional, a negative number too.
    expect(parseArguments(['-v', '--', '--shift-by', '-10'], OPTIONS)).toMatchObject({
      values: { verbose: true },
      positionals: ['--shift-by', '-10'],
    });
  });

  it('names an unknown option and the known one nearest to it', () => {
    expect(errorOf(['--prot', '9092'])).toBe('unknown option --prot (did you mean --port?)');
    expect(errorOf(['--boot', 'x'])).toBe('unknown option --boot (did you mean --bootstrap-server?)');
    expect(errorOf(['--bootstrap_server', 'x'])).toBe(
      'unknown option --bootstrap_server (did you mean --bootstrap-server?)',
    );
    expect(errorOf(['--from-begining'])).toBe(
      'unknown option --from-begining (did you mean --from-beginning?)',
    );
    expect(errorOf(['--frobnicate'])).toBe('unknown option --frobnicate');
    expect(errorOf(['-x'])).toBe('unknown option -x');
  });

  it('says when an option misses its value or has one it does not take', () => {
    expect(errorOf(['topic', '--group'])).toBe('--group needs a value');
    expect(errorOf(['--group', '--from-beginning'])).toBe(
      '--group needs a value, got the option --from-beginning (if that is the value, write --group=--from-beginning)',
    );
    expect(errorOf(['-g', '-v'])).toBe(
      '-g needs a value, got the option -v (if that is the value, write --group=-v)',
    );
    expect(errorOf(['--from-beginning=yes'])).toBe('--from-beginning takes no value');
  });

  it('finds the nearest word by prefix, typo or swapped letters, and none when nothing is near', () => {
    const commands = ['broker', 'topics', 'produce', 'consume', 'groups', 'sql', 'views'];
    expect(nearest('tpoics', commands)).toBe('topics');
    expect(nearest('borker', commands)).toBe('broker');
    expect(nearest('cons', commands)).toBe('consume');
    expect(nearest('group', commands)).toBe('groups');
    expect(nearest('sq', commands)).toBe('sql');
    expect(nearest('frobnicate', commands)).toBeUndefined();
    expect(nearest('p', commands)).toBeUndefined();
  });
});
