import type { DstRule, TimezoneInfo } from './types.js';

/**
 * POSIX TZ strings with named zones (CET-1CEST-2,M3.5.0/02:00:00,M10.5.0/03:00:00), as Grandstream's own zone menu
 * and both peers write them. The runtime gives "GMT+1" for many zones; a name then comes from the zone's region
 * and offset. The DST offset is always written (the peers' form), and the rule times are hh:mm:ss.
 */

/** Region/standard offset (s) → standard and daylight names. */
const NAMES: Record<string, readonly [string, string]> = {
  'Europe|0': ['WET', 'WEST'],
  'Europe|3600': ['CET', 'CEST'],
  'Europe|7200': ['EET', 'EEST'],
  'Europe|10800': ['MSK', 'MSD'],
  'Africa|3600': ['CET', 'CEST'],
  'Africa|7200': ['EET', 'EEST'],
  'Australia|36000': ['AEST', 'AEDT'],
  'Australia|34200': ['ACST', 'ACDT'],
  'Australia|28800': ['AWST', 'AWDT'],
  'Pacific|43200': ['NZST', 'NZDT'],
  'Asia|28800': ['CST', 'CDT'],
  'Asia|32400': ['JST', 'JDT'],
  'Asia|19800': ['IST', 'IDT'],
};
/** Zones whose names are not their region's. */
const ZONE_NAMES: Record<string, readonly [string, string]> = {
  'Europe/London': ['GMT', 'BST'],
  'Europe/Dublin': ['GMT', 'IST'],
  'Europe/Guernsey': ['GMT', 'BST'],
  'Europe/Isle_of_Man': ['GMT', 'BST'],
  'Europe/Jersey': ['GMT', 'BST'],
  'Asia/Seoul': ['KST', 'KDT'],
  'Asia/Jerusalem': ['IST', 'IDT'],
};

const ALPHA = /^[A-Za-z]{3,6}$/;

function names(tz: TimezoneInfo): readonly [string, string] {
  const std = tz.stdAbbr;
  const dst = tz.dst?.dstAbbr ?? '';
  if (ALPHA.test(std) && (!tz.dst || ALPHA.test(dst))) return [std, dst];
  const known = ZONE_NAMES[tz.name] ?? NAMES[`${tz.name.split('/')[0]}|${tz.standardOffsetSeconds}`];
  if (known) return known;
  // No conventional name: a neutral one; the offset that follows is what the phone keeps time by.
  return [ALPHA.test(std) ? std : 'UTC', ALPHA.test(dst) ? dst : 'DST'];
}

/** POSIX offsets count west of UTC: +1 h east is "-1"; minutes as h:mm. */
function offset(seconds: number): string {
  const west = -seconds;
  const a = Math.abs(west);
  const h = Math.floor(a / 3600);
  const m = Math.floor((a % 3600) / 60);
  return `${west < 0 ? '-' : ''}${h}${m ? `:${String(m).padStart(2, '0')}` : ''}`;
}

function rule(r: DstRule): string {
  return `M${r.month}.${r.week}.${r.dayOfWeek}/${String(r.hour).padStart(2, '0')}:00:00`;
}

export function posixTimezone(tz: TimezoneInfo): string {
  const [std, dst] = names(tz);
  const base = `${std}${offset(tz.standardOffsetSeconds)}`;
  if (!tz.dst) return base;
  return `${base}${dst}${offset(tz.standardOffsetSeconds + tz.dst.offsetSeconds)},${rule(tz.dst.start)},${rule(tz.dst.end)}`;
}
