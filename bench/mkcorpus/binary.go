package main

import (
	"archive/zip"
	"bufio"
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"math"
	"strings"
)

// genJPEG encodes a photo-like image: smooth colour gradients and waves
// (low frequencies, like a scene) plus per-pixel sensor noise (high
// frequencies, which is what makes real photos incompressible).
func genJPEG(r *rng, w, h, quality int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	var base, dx, dy [3]float64
	for c := 0; c < 3; c++ {
		base[c] = float64(r.rangeInt(30, 200))
		dx[c] = (r.float() - 0.5) * 120 / float64(w)
		dy[c] = (r.float() - 0.5) * 120 / float64(h)
	}
	// separable waves: tables per column and per row
	colWave := make([]float64, w)
	rowWave := make([]float64, h)
	fx, px, ax := (0.5+r.float()*6)*2*math.Pi/float64(w), r.float()*6.3, 10+r.float()*35
	fy, py, ay := (0.5+r.float()*6)*2*math.Pi/float64(h), r.float()*6.3, 10+r.float()*35
	fx2, fy2 := (5+r.float()*30)*2*math.Pi/float64(w), (5+r.float()*30)*2*math.Pi/float64(h)
	colTex := make([]float64, w)
	rowTex := make([]float64, h)
	for x := range colWave {
		colWave[x] = ax * math.Sin(fx*float64(x)+px)
		colTex[x] = math.Sin(fx2 * float64(x))
	}
	for y := range rowWave {
		rowWave[y] = ay * math.Sin(fy*float64(y)+py)
		rowTex[y] = math.Sin(fy2 * float64(y))
	}
	texAmp := 5 + r.float()*20
	noise := r.rangeInt(18, 30) // sensor noise amplitude
	pix := img.Pix
	for y := 0; y < h; y++ {
		off := y * img.Stride
		for x := 0; x < w; x++ {
			wv := colWave[x] + rowWave[y] + texAmp*colTex[x]*rowTex[y]
			nz := r.u64()
			for c := 0; c < 3; c++ {
				v := base[c] + dx[c]*float64(x) + dy[c]*float64(y) + wv*(0.6+0.2*float64(c)) +
					float64(int(nz>>(c*8)&0xff)%(2*noise+1)-noise)
				if v < 0 {
					v = 0
				} else if v > 255 {
					v = 255
				}
				pix[off+c] = uint8(v)
			}
			pix[off+3] = 255
			off += 4
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: quality}); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// ---- office-like documents (real zip archives with XML, like docx/xlsx) ----

const contentTypesDocx = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Default Extension="jpeg" ContentType="image/jpeg"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/><Override PartName="/word/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/><Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/><Override PartName="/docProps/app.xml" ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/></Types>`

const contentTypesXlsx = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/></Types>`

const relsDocx = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/extended-properties" Target="docProps/app.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>`

const relsXlsx = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`

// stylesXML is identical in every document, as Word's default styles are.
var stylesXML = func() string {
	var sb strings.Builder
	sb.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n" + `<w:styles xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">`)
	r := newRNG(11, "styles")
	for i := 0; i < 120; i++ {
		fmt.Fprintf(&sb, `<w:style w:type="paragraph" w:styleId="Style%d"><w:name w:val="%s %s"/><w:basedOn w:val="Normal"/><w:rPr><w:sz w:val="%d"/><w:rFonts w:ascii="Calibri" w:hAnsi="Calibri"/></w:rPr></w:style>`, i, capitalize(word(r)), word(r), 16+2*r.intn(10))
	}
	sb.WriteString(`</w:styles>`)
	return sb.String()
}()

func coreXML(r *rng) string {
	t := randTime(r)
	return fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dc:title>%s %s</dc:title><dc:creator>%s</dc:creator><cp:lastModifiedBy>%s</cp:lastModifiedBy><cp:revision>%d</cp:revision><dcterms:created xsi:type="dcterms:W3CDTF">%s</dcterms:created><dcterms:modified xsi:type="dcterms:W3CDTF">%s</dcterms:modified></cp:coreProperties>`,
		capitalize(word(r)), word(r), personName(r), personName(r), r.rangeInt(1, 40), t.Format("2006-01-02T15:04:05Z"), t.Add(72*3600e9).Format("2006-01-02T15:04:05Z"))
}

func zipAdd(zw *zip.Writer, name string, data []byte, method uint16) {
	w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: method, Modified: baseTime})
	if err != nil {
		panic(err)
	}
	if _, err := w.Write(data); err != nil {
		panic(err)
	}
}

func genDocx(r *rng, textSize int, withImage bool) []byte {
	var doc bytes.Buffer
	doc.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n" + `<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><w:body>`)
	for doc.Len() < textSize {
		style := r.intn(120)
		p := appendParagraph(nil, r, 0)
		fmt.Fprintf(&doc, `<w:p><w:pPr><w:pStyle w:val="Style%d"/></w:pPr><w:r><w:rPr><w:lang w:val="en-US"/></w:rPr><w:t xml:space="preserve">%s</w:t></w:r></w:p>`, style, bytes.TrimSpace(p))
	}
	doc.WriteString(`<w:sectPr><w:pgSz w:w="11906" w:h="16838"/><w:pgMar w:top="1417" w:right="1417" w:bottom="1417" w:left="1417"/></w:sectPr></w:body></w:document>`)
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	zipAdd(zw, "[Content_Types].xml", []byte(contentTypesDocx), zip.Deflate)
	zipAdd(zw, "_rels/.rels", []byte(relsDocx), zip.Deflate)
	zipAdd(zw, "docProps/core.xml", []byte(coreXML(r)), zip.Deflate)
	zipAdd(zw, "docProps/app.xml", []byte(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`+"\n"+`<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"><Application>Microsoft Office Word</Application><AppVersion>16.0000</AppVersion></Properties>`), zip.Deflate)
	zipAdd(zw, "word/styles.xml", []byte(stylesXML), zip.Deflate)
	zipAdd(zw, "word/document.xml", doc.Bytes(), zip.Deflate)
	if withImage {
		// images are stored (not deflated) inside office files
		zipAdd(zw, "word/media/image1.jpeg", genJPEG(r, r.rangeInt(400, 1200), r.rangeInt(300, 900), 80), zip.Store)
	}
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return out.Bytes()
}

func genXlsx(r *rng, sheetSize int) []byte {
	var sh bytes.Buffer
	sh.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n" + `<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>`)
	row := 0
	for sh.Len() < sheetSize {
		row++
		fmt.Fprintf(&sh, `<row r="%d">`, row)
		fmt.Fprintf(&sh, `<c r="A%d" t="inlineStr"><is><t>%s</t></is></c>`, row, personName(r))
		fmt.Fprintf(&sh, `<c r="B%d"><v>%d</v></c>`, row, r.intn(100000))
		fmt.Fprintf(&sh, `<c r="C%d"><v>%d.%02d</v></c>`, row, r.intn(10000), r.intn(100))
		fmt.Fprintf(&sh, `<c r="D%d" t="inlineStr"><is><t>%s</t></is></c>`, row, pick(r, categories))
		fmt.Fprintf(&sh, `<c r="E%d"><f>B%d*C%d</f><v>%d</v></c>`, row, row, row, r.intn(1000000))
		sh.WriteString(`</row>`)
	}
	sh.WriteString(`</sheetData></worksheet>`)
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	zipAdd(zw, "[Content_Types].xml", []byte(contentTypesXlsx), zip.Deflate)
	zipAdd(zw, "_rels/.rels", []byte(relsXlsx), zip.Deflate)
	zipAdd(zw, "docProps/core.xml", []byte(coreXML(r)), zip.Deflate)
	zipAdd(zw, "xl/workbook.xml", []byte(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`+"\n"+`<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>`), zip.Deflate)
	zipAdd(zw, "xl/worksheets/sheet1.xml", sh.Bytes(), zip.Deflate)
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return out.Bytes()
}

// ---- big files ----

// writeDump streams a mysqldump-like file of about size bytes.
func writeDump(w io.Writer, seed uint64, size int64) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	r := newRNG(seed, "dump")
	var written int64
	b := []byte("-- MySQL dump 10.13  Distrib 8.0.36, for Linux (x86_64)\n--\n-- Host: db.example.org    Database: shop\n-- ------------------------------------------------------\n/*!40101 SET NAMES utf8mb4 */;\n/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;\n")
	tables := []string{"orders", "customers", "invoices", "shipments", "payments", "audit_log"}
	per := size / int64(len(tables))
	id := 0
	for ti, t := range tables {
		b = sqlTableHeader(b, t)
		id = 0
		for written+int64(len(b)) < per*int64(ti+1) && written+int64(len(b)) < size {
			b = sqlInsert(b, r, t, &id)
			if len(b) > 1<<20 {
				n, err := bw.Write(b)
				written += int64(n)
				if err != nil {
					return err
				}
				b = b[:0]
			}
		}
		b = fmt.Appendf(b, "UNLOCK TABLES;\n")
	}
	b = append(b, "/*!40014 SET UNIQUE_CHECKS=@OLD_UNIQUE_CHECKS */;\n-- Dump completed on 2024-01-01  8:00:00\n"...)
	if _, err := bw.Write(b); err != nil {
		return err
	}
	return bw.Flush()
}

const diskRegion = 1 << 20

// diskRegionData fills one 1 MiB region of the disk image: an empty region
// (zeros), a region of random data (compressed/encrypted blocks), or a region
// of file-system-like structured data (text blocks with zero tails).
func diskRegionData(seed uint64, idx int64, buf []byte) {
	r := newRNG(seed, "disk", uint64(idx))
	for i := range buf {
		buf[i] = 0
	}
	switch x := r.intn(100); {
	case x < 45: // zeros
	case x < 80: // random blocks with some zero blocks
		for off := 0; off < len(buf); off += 4096 {
			if !r.chance(0.1) {
				r.fill(buf[off : off+4096])
			}
		}
	default: // structured: text in 4K blocks, partially filled
		for off := 0; off < len(buf); off += 4096 {
			n := r.intn(4097)
			t := textOfSize(r, n, 0)
			copy(buf[off:off+n], t)
			buf[off] = byte(idx)
		}
	}
}

func writeDisk(w io.Writer, seed uint64, size int64) error {
	buf := make([]byte, diskRegion)
	for idx := int64(0); idx*diskRegion < size; idx++ {
		diskRegionData(seed, idx, buf)
		n := int64(len(buf))
		if rem := size - idx*diskRegion; rem < n {
			n = rem
		}
		if _, err := w.Write(buf[:n]); err != nil {
			return err
		}
	}
	return nil
}
