/**
 * A Lightroom Classic develop preset (.xmp) from an image's Camera Raw settings (`crs:`), the
 * way PixelPeeper turned a photo's edits into a download. The settings come from untrusted XMP:
 * only scalar values and lists of scalars under plain names are written, every value escaped.
 */

/**
 * Settings that describe this one photo rather than a look, left out of the preset (as
 * Lightroom's own "Create Preset" dialog leaves them out by default): geometry (crop, Upright's
 * computed transform), local work (spot removal, red eye, brushes, gradients, masks), the
 * white balance measured for this shot, and bookkeeping about the file.
 */
const PER_IMAGE = new Set([
  'AlreadyApplied',
  'RawFileName',
  'HasCrop',
  'CropTop',
  'CropLeft',
  'CropBottom',
  'CropRight',
  'CropAngle',
  'CropConstrainToWarp',
  'CropConstrainToUnitSquare',
  'CropWidth',
  'CropHeight',
  'CropUnit',
  'RetouchInfo',
  'RetouchAreas',
  'RedEyeInfo',
  'PaintBasedCorrections',
  'GradientBasedCorrections',
  'CircularGradientBasedCorrections',
  'MaskGroupBasedCorrections',
  'Orientation',
  'DerivedFrom',
  'LensProfileDigest',
  'CameraProfileDigest',
  'RawFileDigest',
]);
const PER_IMAGE_PREFIXES = ['Crop', 'Upright', 'Retouch', 'Mask'];

/** Written by every preset, not taken from the image. */
const BOOKKEEPING = new Set(['Version', 'ProcessVersion', 'HasSettings']);

const NAME = /^[A-Z][A-Za-z0-9]{0,63}$/;
const MAX_SETTINGS = 1000;
const MAX_VALUE = 4096;

type Scalar = string | number | boolean;

/** The settings a preset carries, by name; empty when the image has no develop settings. */
export function presetSettings(crs: unknown): Map<string, Scalar | Scalar[]> {
  const out = new Map<string, Scalar | Scalar[]>();
  if (!crs || typeof crs !== 'object' || Array.isArray(crs)) return out;
  const record = crs as Record<string, unknown>;
  if (record.HasSettings === false || record.HasSettings === 'False') return out;
  // White balance as shot: its Temperature and Tint are this camera's measurement.
  const asShot = record.WhiteBalance === 'As Shot';
  for (const [key, value] of Object.entries(record)) {
    if (out.size >= MAX_SETTINGS) break;
    if (!NAME.test(key) || PER_IMAGE.has(key) || PER_IMAGE_PREFIXES.some((p) => key.startsWith(p))) continue;
    if (asShot && (key === 'Temperature' || key === 'Tint')) continue;
    if (isScalar(value)) out.set(key, value);
    else if (Array.isArray(value) && value.length > 0 && value.length <= 1024 && value.every(isScalar)) {
      out.set(key, value);
    }
  }
  // Only a version and flags: nothing to apply.
  if ([...out.keys()].every((k) => BOOKKEEPING.has(k))) out.clear();
  return out;
}

function isScalar(v: unknown): v is Scalar {
  return (
    (typeof v === 'string' && v.length <= MAX_VALUE) ||
    (typeof v === 'number' && Number.isFinite(v)) ||
    typeof v === 'boolean'
  );
}

function text(v: Scalar): string {
  const s = typeof v === 'boolean' ? (v ? 'True' : 'False') : String(v);
  // Control characters other than tab and newlines are not allowed in XML 1.0: dropped.
  const printable = [...s].filter((c) => c >= ' ' || c === '\t' || c === '\n' || c === '\r').join('');
  return printable.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * The preset file, or undefined when the settings carry nothing to apply. `name` becomes the
 * preset's name in Lightroom (group "imgkit"); `uuid` its identity (32 upper-case hex digits).
 */
export function lightroomPreset(crs: unknown, o: { name: string; uuid: string }): string | undefined {
  const settings = presetSettings(crs);
  if (settings.size === 0) return undefined;
  const attributes: string[] = [
    ['PresetType', 'Normal'],
    ['Cluster', ''],
    ['UUID', o.uuid],
    ['SupportsAmount', 'False'],
    ['SupportsColor', 'True'],
    ['SupportsMonochrome', 'True'],
    ['SupportsHighDynamicRange', 'True'],
    ['SupportsNormalDynamicRange', 'True'],
    ['SupportsSceneReferred', 'True'],
    ['SupportsOutputReferred', 'True'],
    ['CameraModelRestriction', ''],
    ['Copyright', ''],
    ['ContactInfo', ''],
  ].map(([k, v]) => `   crs:${k}="${text(v)}"`);
  const sequences: string[] = [];
  for (const [key, value] of settings) {
    if (Array.isArray(value)) {
      const items = value.map((v) => `     <rdf:li>${text(v)}</rdf:li>`).join('\n');
      sequences.push(`   <crs:${key}>\n    <rdf:Seq>\n${items}\n    </rdf:Seq>\n   </crs:${key}>`);
    } else {
      attributes.push(`   crs:${key}="${text(value)}"`);
    }
  }
  if (!settings.has('HasSettings')) attributes.push('   crs:HasSettings="True"');
  const alt = (tag: string, value: string) =>
    `   <crs:${tag}>\n    <rdf:Alt>\n     <rdf:li xml:lang="x-default">${text(value)}</rdf:li>\n    </rdf:Alt>\n   </crs:${tag}>`;
  return `<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="imgkit">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:crs="http://ns.adobe.com/camera-raw-settings/1.0/"
${attributes.join('\n')}>
${[alt('Name', o.name), alt('ShortName', o.name), alt('SortName', o.name), alt('Group', 'imgkit'), ...sequences].join('\n')}
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
`;
}
