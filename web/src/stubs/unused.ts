// jsPDF can load html2canvas, DOMPurify and canvg for doc.html() and SVG
// images, which this app never uses. They are replaced by this stub so the
// embedded app stays small (about 380 KB less); calling them says why.
const unused = (): never => {
  throw new Error('not bundled in the crisis room app');
};
export default unused;
export const Canvg = { fromString: unused };
