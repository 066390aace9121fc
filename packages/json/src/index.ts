export { rawJsonMember, withRawMember } from './raw-json.ts';
