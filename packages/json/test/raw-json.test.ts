import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rawJsonMember, withRawMember } from '@imgkit/json';

test('a member comes back as the exact text the client sent', () => {
  const body = '{"url":"https://x/y.jpg", "passthrough" : {"b":1,  "a":[1,2,{"c":"}\\"]"}]} ,"z":true}';
  assert.equal(rawJsonMember(body, 'passthrough'), '{"b":1,  "a":[1,2,{"c":"}\\"]"}]}');
  assert.equal(rawJsonMember(body, 'z'), 'true');
  assert.equal(rawJsonMember(body, 'missing'), undefined);
  assert.equal(rawJsonMember('[1,2]', 'x'), undefined);
  assert.equal(rawJsonMember('{"p":"\\u00e9\\n"}', 'p'), '"\\u00e9\\n"');
});

test('a raw member is appended to a serialised object byte for byte', () => {
  assert.equal(
    withRawMember('{"id":"img_1"}', 'passthrough', '{ "k" : 1 }'),
    '{"id":"img_1","passthrough":{ "k" : 1 }}',
  );
  assert.equal(withRawMember('{"id":"img_1"}', 'passthrough', null), '{"id":"img_1","passthrough":null}');
});

test('deep nesting and long strings are scanned without recursion or backtracking', () => {
  const deep = `{"p":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
  assert.equal(rawJsonMember(deep, 'p')?.length, 200_000);
});
