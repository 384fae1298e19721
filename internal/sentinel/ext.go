package sentinel

import (
	"path"
	"strings"

	"github.com/rempart/rempart/internal/sentinel/container"
)

// extKinds maps a lowercase extension to the kind its content must have.
// It serves two rules: a new file whose extension promises a format but
// whose content is unknown and ciphertext-like; and a renamed file whose
// new extension means nothing for its content (report.docx.locked).
var extKinds = map[string]string{}

func init() {
	for kind, exts := range map[string]string{
		container.Zip:    "docx docm dotx dotm xlsx xlsm xltx xltm pptx pptm potx ppsx odt ods odp odg odf ott ots otp zip jar apk epub xps oxps kmz vsdx 3mf nupkg whl",
		container.PDF:    "pdf ai",
		container.JPEG:   "jpg jpeg jpe jfif",
		container.PNG:    "png",
		container.GIF:    "gif",
		container.Gzip:   "gz tgz svgz",
		container.Bzip2:  "bz2 tbz tbz2",
		container.XZ:     "xz txz",
		container.Zstd:   "zst zstd",
		container.SevenZ: "7z",
		container.RAR:    "rar",
		container.OLE2:   "doc dot xls xlt ppt pot pps msg msi vsd pub mpp",
		container.SQLite: "sqlite sqlite3 db3",
		container.ELF:    "so ko elf",
		container.PE:     "exe dll sys scr ocx cpl efi",
		container.MP3:    "mp3",
		container.MP4:    "mp4 m4a m4v mov 3gp heic heif avif",
		container.GPG:    "gpg pgp asc",
		container.Age:    "age",
		container.Text:   "txt csv tsv log md json xml html htm xhtml svg eml mbox ini cfg conf yaml yml sql js css py sh bat ps1 vcf ics srt tex nfo properties toml rst php java c h cpp go rb pl xsl xslt dtd",
		container.RTF:    "rtf",
		container.Tar:    "tar",
		container.WAV:    "wav",
		container.AVI:    "avi",
		container.WebP:   "webp",
		container.BMP:    "bmp dib",
		container.TIFF:   "tif tiff dng cr2 nef arw",
		container.Ogg:    "ogg oga ogv opus",
		container.FLAC:   "flac",
		container.MKV:    "mkv webm",
		container.PSD:    "psd",
		container.CAB:    "cab",
		container.LZ4:    "lz4",
		container.WOFF:   "woff woff2",
	} {
		for _, e := range strings.Fields(exts) {
			extKinds[e] = kind
		}
	}
}

// benignSuffixes are extensions that people and programs add to a file
// without changing what it is: copies, backups, rotated logs.
var benignSuffixes = map[string]bool{
	"bak": true, "old": true, "orig": true, "tmp": true, "temp": true, "backup": true, "bck": true,
	"sav": true, "save": true, "copy": true, "part": true, "crdownload": true, "download": true, "prev": true,
}

// ext returns the lowercase extension of a slash-separated path, "" when
// none.
func ext(p string) string {
	b := path.Base(p)
	i := strings.LastIndexByte(b, '.')
	if i <= 0 || i == len(b)-1 {
		return ""
	}
	return strings.ToLower(b[i+1:])
}

// foreignExt reports whether e, the extension a file gained, means nothing
// for content of the given kind: what ransomware appends (.locked, .crypt,
// .id-1234) and no person or program would.
func foreignExt(e, kind string) bool {
	if e == "" || benignSuffixes[e] || isDigits(e) || strings.HasSuffix(e, "~") {
		return false
	}
	k, known := extKinds[e]
	if kind == "" {
		return !known
	}
	if k == kind {
		return false
	}
	// Kinds that often wear each other's extensions: rtf and html saved
	// as .doc, ole2-protected OOXML, text in .rtf.
	switch {
	case kind == container.Text && (k == container.RTF || k == container.OLE2):
		return false
	case kind == container.RTF && (k == container.OLE2 || k == container.Text):
		return false
	case kind == container.OLE2 && k == container.Zip:
		return false
	}
	return true
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}
