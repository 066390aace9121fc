import { isId } from '@imgkit/ids';
import { loadConfigOrExit } from '@imgkit/runtime';
import { EXTENSIONS, onlyPresetOptions, signPath, type UrlOptions } from '@imgkit/urls';
import { CliError, type Output } from '../output.ts';

const positive = (name: string, v: string | boolean | undefined) => {
  if (v === undefined || typeof v === 'boolean') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new CliError(`--${name} must be a positive integer`);
  return n;
};

/**
 * `imgkit sign-url img_… --width 200 --height 200 --fit cover --format webp [--expires-in 3600]`,
 * or `--preset thumbnail`. Offline (no database): after a purge, pass the image's
 * `rendition_version` so the URL differs from the ones caches hold.
 */
export function runSignUrl(
  out: Output,
  imageId: string | undefined,
  opts: Record<string, string | boolean | undefined>,
): void {
  if (!imageId || !isId('image', imageId))
    throw new CliError(
      'usage: imgkit sign-url img_… [--width N] [--height N] [--fit cover|inside|fill] [--format webp]',
    );
  const config = loadConfigOrExit(process.env, { createLocalSecrets: false });
  const str = (k: string) => (typeof opts[k] === 'string' ? (opts[k] as string) : undefined);
  const preset = str('preset');
  if (preset !== undefined && !Object.hasOwn(config.urlPresets, preset))
    throw new CliError(`--preset must be one of ${Object.keys(config.urlPresets).join(', ')}`);
  const presetFormat = preset === undefined ? undefined : config.urlPresets[preset].format;
  const asked = str('format') ?? presetFormat ?? 'jpg';
  // auto: negotiated per request; the extension is the JPEG fallback.
  const format = asked === 'auto' ? 'jpg' : asked;
  if (!EXTENSIONS[format])
    throw new CliError(`--format must be auto or one of ${Object.keys(EXTENSIONS).join(', ')}`);
  const version = positive('rendition-version', opts['rendition-version']);
  const fit = str('fit') as UrlOptions['fit'];
  if (fit && !['cover', 'inside', 'fill'].includes(fit))
    throw new CliError('--fit must be cover, inside or fill');
  const expiresIn = positive('expires-in', opts['expires-in']);
  const options: UrlOptions = {
    keyId: config.URL_SIGNING_KEY_ID,
    preset,
    width: positive('width', opts.width),
    height: positive('height', opts.height),
    fit,
    gravity: str('gravity'),
    quality: positive('quality', opts.quality),
    format: str('format') === 'auto' ? 'auto' : undefined,
    version: version !== undefined && version > 1 ? version : undefined,
    expires: expiresIn ? Math.floor(Date.now() / 1000) + expiresIn : undefined,
  };
  if (config.SIGNED_URLS_PRESETS_ONLY && !onlyPresetOptions(options))
    throw new CliError('SIGNED_URLS_PRESETS_ONLY is set: sign a --preset, with no other options');
  const path = signPath(config.urlSigningKey, options, imageId, format);
  const url = config.PUBLIC_BASE_URL ? new URL(path, config.PUBLIC_BASE_URL).toString() : path;
  out.print(url, { url, expires_at: options.expires ?? null });
}
