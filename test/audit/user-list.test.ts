import { describe, expect, it } from 'vitest';
import { isUserFileReference, parseInlineUsers, parseUserFile } from '../../src/audit/user-list.js';
import { InputError } from '../../src/errors.js';
import { validateParams } from '../../src/queue/schedules.js';
import { passwdAudit } from '../../jobs/passwd-audit.js';

describe('watched user lists', () => {
  it('parses inline entries in every accepted shape and drops duplicates', () => {
    expect(parseInlineUsers([{ contextId: 1, userId: 3 }, [2, 4], '3/5', '3:5', { context_id: '7', user_id: '8' }])).toEqual([
      { contextId: 1, userId: 3 },
      { contextId: 2, userId: 4 },
      { contextId: 3, userId: 5 },
      { contextId: 7, userId: 8 },
    ]);
    expect(parseInlineUsers('1/3, 1/4 2:9')).toEqual([
      { contextId: 1, userId: 3 },
      { contextId: 1, userId: 4 },
      { contextId: 2, userId: 9 },
    ]);
  });

  it('tells inline text from file references', () => {
    expect(isUserFileReference('1/3,1/4')).toBe(false);
    expect(isUserFileReference('./watched.yaml')).toBe(true);
    expect(isUserFileReference('s3://audit/watched.csv')).toBe(true);
    expect(isUserFileReference([{ contextId: 1, userId: 2 }])).toBe(false);
  });

  it('reads YAML, JSON and CSV files', () => {
    expect(parseUserFile('users:\n  - { contextId: 1, userId: 2 }\n  - [1, 3]\n', 'w.yaml')).toEqual([
      { contextId: 1, userId: 2 },
      { contextId: 1, userId: 3 },
    ]);
    expect(parseUserFile('[{"contextId":4,"userId":5}]', 'w.json')).toEqual([{ contextId: 4, userId: 5 }]);
    expect(parseUserFile('\uFEFFuser_id;context_id\r\n5;4\r\n# comment\r\n\r\n6;4\r\n', 'w.csv')).toEqual([
      { contextId: 4, userId: 5 },
      { contextId: 4, userId: 6 },
    ]);
    expect(parseUserFile('4,5\n4,6\n', 'w.csv')).toEqual([
      { contextId: 4, userId: 5 },
      { contextId: 4, userId: 6 },
    ]);
    expect(parseUserFile('- 1/2\n', 'list')).toEqual([{ contextId: 1, userId: 2 }]);
    expect(parseUserFile('contextId,userId\n1,2\n', 'list')).toEqual([{ contextId: 1, userId: 2 }]);
  });

  it('names the source, the entry and the value of bad input', () => {
    expect(() => parseUserFile('contextId,userId\n1,2\n1,abc\n', 'w.csv')).toThrow(
      /users file w\.csv record 3: userId "abc" is not a positive integer/,
    );
    expect(() => parseUserFile('ctx,who\n1,2\n', 'w.csv')).toThrow(/line 1: expected a header with contextId and userId/);
    expect(() => parseUserFile('{"users": 3}', 'w.json')).toThrow(InputError);
    expect(() => parseUserFile('[{"contextId":0,"userId":1}]', 'w.json')).toThrow(/entry 1: contextId 0 is not a positive integer/);
    expect(() => parseInlineUsers([{ contextId: 1 }])).toThrow(/param users\[0\]: userId \(missing\)/);
    expect(() => parseInlineUsers(42)).toThrow(InputError);
  });

  it('says what the users param wants when it is missing, empty or of another type', () => {
    const check = (params: unknown) => () => validateParams(passwdAudit, params, 'schedule audit');
    expect(check({})).toThrow(
      /^schedule audit: params\.users: missing: give the watched users as a file \(YAML\/JSON\/CSV, local or s3:\/\/\) or a list such as 10\/1,10\/2 \(job passwd\.audit\)$/,
    );
    expect(check({ users: '' })).toThrow(/params\.users: empty: give a users file or a list such as 10\/1,10\/2/);
    expect(check({ users: 42 })).toThrow(/params\.users: expected a users file .* or a list of contextId\/userId/);
    expect(check({ users: '10/1' })).not.toThrow();
  });
});
