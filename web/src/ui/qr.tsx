// QR code drawn as an SVG path from qrcode-generator's matrix (no innerHTML,
// nothing fetched).
import qrcode from 'qrcode-generator';

export function QR(props: { text: string; size?: number; testid?: string; label: string }) {
  const qr = qrcode(0, 'M');
  qr.addData(props.text);
  qr.make();
  const n = qr.getModuleCount();
  const m = 4; // quiet zone
  let d = '';
  for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) if (qr.isDark(r, c)) d += `M${c + m} ${r + m}h1v1h-1z`;
  const size = props.size ?? 240;
  return (
    <svg
      class="qr"
      data-testid={props.testid}
      data-content={props.text}
      role="img"
      aria-label={props.label}
      width={size}
      height={size}
      viewBox={`0 0 ${n + 2 * m} ${n + 2 * m}`}
      shape-rendering="crispEdges"
    >
      <rect width="100%" height="100%" fill="#fff" />
      <path d={d} fill="#000" />
    </svg>
  );
}
