package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

var commonWords = strings.Fields(`the of and to a in is it you that he was for on are with as I his they be
at one have this from or had by not word but what some we can out other were all there when up use your how
said an each she which do their time if will way about many then them write would like so these her long
make thing see him two has look more day could go come did number sound no most people my over know water
than call first who may down side been now find any new work part take get place made live where after back
little only round man year came show every good me give our under name very through just form sentence
great think say help low line differ turn cause much mean before move right boy old too same tell does set
three want air well also play small end put home read hand port large spell add even land here must big
high such follow act why ask men change went light kind off need house picture try us again animal point
mother world near build self earth father head stand own page should country found answer school grow study
still learn plant cover food sun four between state keep eye never last let thought city tree cross farm
hard start might story saw far sea draw left late run while press close night real life few north open seem
together next white children begin got walk example ease paper group always music those both mark often
letter until mile river car feet care second book carry took science eat room friend began idea fish
mountain stop once base hear horse cut sure watch color face wood main enough plain girl usual young ready
above ever red list though feel talk bird soon body dog family direct pose leave song measure door product
black short numeral class wind question happen complete ship area half rock order fire south problem piece
told knew pass since top whole king space heard best hour better true during hundred five remember step
early hold west ground interest reach fast verb sing listen six table travel less morning ten simple
several vowel toward war lay against pattern slow center love person money serve appear road map rain rule
govern pull cold notice voice unit power town fine certain fly fall lead cry dark machine note wait plan
figure star box noun field rest correct able pound done beauty drive stood contain front teach week final
gave green oh quick develop ocean warm free minute strong special mind behind clear tail produce fact
street inch multiply nothing course stay wheel full force blue object decide surface deep moon island foot
system busy test record boat common gold possible plane stead dry wonder laugh thousand ago ran check game
shape equate hot miss brought heat snow tire bring yes distant fill east paint language among invoice
contract budget quarter revenue meeting project customer report server backup release schedule`)

var firstNames = strings.Fields(`James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth
William Barbara Richard Susan Joseph Jessica Thomas Sarah Charles Karen Daniel Lisa Matthew Nancy Anthony
Betty Mark Sandra Paul Ashley Steven Emily Andrew Donna Joshua Michelle Kenneth Carol Kevin Amanda Brian
Melissa George Deborah Timothy Stephanie Ronald Rebecca Jason Sharon Edward Laura Jeffrey Cynthia Ryan
Amy Jacob Kathleen Gary Angela Nicholas Shirley Eric Brenda Jonathan Emma Stephen Anna Larry Pamela Justin
Nicole Scott Samantha Brandon Katherine Benjamin Christine Samuel Helen Camille Louis Chloe Hugo Manon
Lucas Jeanne Nathan Ines Jules Lea Arthur Zoe Paul Alice Raphael Louise Gabriel Sofia Ahmed Yasmine`)

var lastNames = strings.Fields(`Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez
Hernandez Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris
Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green
Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Dubois Durand Lefebvre Moreau Laurent
Simon Michel Garnier Bernard Petit Roux Fournier Girard Bonnet Dupont Lambert Fontaine Rousseau Vincent`)

var domains = strings.Fields(`example.com example.org example.net mail.example corp.example
lists.example.org acme.example widgets.example`)

var syllables = strings.Fields(`ka to ri mu se la no fi be da re mo tu vi ga pe lo ni sa ko ju ra te mi
zo ba ce di fu ge hi jo le ma ne pi qu ro si ta vo wa xe yo ze an el in on un ar er or ur al il ol`)

// vocab: real frequent English words first, then synthetic words, so the
// skewed picker below produces text with a natural, Zipf-like distribution.
var vocab = func() []string {
	v := append([]string{}, commonWords...)
	r := newRNG(7, "vocab")
	seen := map[string]bool{}
	for _, w := range v {
		seen[w] = true
	}
	for len(v) < 4000 {
		n := r.rangeInt(2, 4)
		var sb strings.Builder
		for i := 0; i < n; i++ {
			sb.WriteString(pick(r, syllables))
		}
		w := sb.String()
		if !seen[w] {
			seen[w] = true
			v = append(v, w)
		}
	}
	return v
}()

func word(r *rng) string {
	u := r.float()
	return vocab[int(u*u*u*float64(len(vocab)))]
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func appendSentence(b []byte, r *rng) []byte {
	n := r.rangeInt(5, 22)
	for i := 0; i < n; i++ {
		w := word(r)
		if i == 0 {
			w = capitalize(w)
		} else {
			b = append(b, ' ')
		}
		b = append(b, w...)
		if i > 0 && i < n-1 && r.chance(0.06) {
			b = append(b, ',')
		}
	}
	switch x := r.intn(20); {
	case x == 0:
		b = append(b, '?')
	case x == 1:
		b = append(b, '!')
	default:
		b = append(b, '.')
	}
	return b
}

func appendParagraph(b []byte, r *rng, lineWidth int) []byte {
	start := len(b)
	n := r.rangeInt(2, 7)
	for i := 0; i < n; i++ {
		if i > 0 {
			b = append(b, ' ')
		}
		b = appendSentence(b, r)
	}
	if lineWidth > 0 {
		// hard-wrap like mail or plain text notes
		lastSpace, col := -1, 0
		for i := start; i < len(b); i++ {
			if b[i] == ' ' {
				lastSpace = i
			}
			col++
			if col > lineWidth && lastSpace > 0 {
				b[lastSpace] = '\n'
				col = i - lastSpace
				lastSpace = -1
			}
		}
	}
	return append(b, '\n')
}

// textOfSize generates prose of about size bytes.
func textOfSize(r *rng, size int, lineWidth int) []byte {
	b := make([]byte, 0, size+1024)
	for len(b) < size {
		b = appendParagraph(b, r, lineWidth)
		b = append(b, '\n')
	}
	return b
}

func personName(r *rng) string { return pick(r, firstNames) + " " + pick(r, lastNames) }

func email(r *rng) string {
	return strings.ToLower(pick(r, firstNames)+"."+pick(r, lastNames)) + "@" + pick(r, domains)
}

var baseTime = time.Date(2024, 1, 1, 8, 0, 0, 0, time.UTC)

func randTime(r *rng) time.Time {
	return baseTime.Add(-time.Duration(r.intn(3*365*24*3600)) * time.Second)
}

// ---- plain text notes ----

func genNote(r *rng, size int) []byte {
	var b []byte
	b = append(b, "# "...)
	b = append(b, capitalize(word(r))+" "+word(r)+" "+word(r)...)
	b = append(b, "\n\n"...)
	b = append(b, textOfSize(r, size, 78)...)
	return b
}

// ---- CSV ----

var categories = strings.Fields(`hardware software services travel office training consulting hosting
licence support marketing payroll rent utilities insurance`)

func genCSV(r *rng, size int) []byte {
	b := make([]byte, 0, size+256)
	kind := r.intn(3)
	switch kind {
	case 0:
		b = append(b, "id,date,customer,email,category,quantity,unit_price,total,comment\n"...)
	case 1:
		b = append(b, "timestamp,sensor,temperature,humidity,pressure,status\n"...)
	default:
		b = append(b, "account,date,description,debit,credit,balance\n"...)
	}
	id := r.rangeInt(1, 100000)
	t := randTime(r)
	bal := float64(r.intn(100000)) / 10
	for len(b) < size {
		id++
		t = t.Add(time.Duration(r.rangeInt(1, 3600)) * time.Second)
		switch kind {
		case 0:
			q := r.rangeInt(1, 50)
			p := float64(r.rangeInt(100, 99999)) / 100
			b = fmt.Appendf(b, "%d,%s,%s,%s,%s,%d,%.2f,%.2f,\"%s %s %s\"\n", id, t.Format("2006-01-02"),
				personName(r), email(r), pick(r, categories), q, p, float64(q)*p, word(r), word(r), word(r))
		case 1:
			b = fmt.Appendf(b, "%s,S%03d,%.2f,%.1f,%.1f,%s\n", t.Format(time.RFC3339), r.intn(200),
				15+float64(r.intn(1500))/100, 30+float64(r.intn(600))/10, 990+float64(r.intn(400))/10,
				pick(r, []string{"ok", "ok", "ok", "ok", "warn", "err"}))
		default:
			amt := float64(r.rangeInt(100, 500000)) / 100
			debit, credit := "", ""
			if r.chance(0.6) {
				debit = strconv.FormatFloat(amt, 'f', 2, 64)
				bal -= amt
			} else {
				credit = strconv.FormatFloat(amt, 'f', 2, 64)
				bal += amt
			}
			b = fmt.Appendf(b, "FR76%010d,%s,%s %s,%s,%s,%.2f\n", r.intn(1000), t.Format("2006-01-02"),
				capitalize(word(r)), word(r), debit, credit, bal)
		}
	}
	return b
}

// ---- e-mail ----

func genEmailBody(r *rng) []byte {
	size := r.logUniform(300, 12000)
	var b []byte
	b = append(b, "Hello "+pick(r, firstNames)+",\n\n"...)
	b = append(b, textOfSize(r, size, 72)...)
	b = append(b, "Best regards,\n"+personName(r)+"\n"...)
	return b
}

// genEmail makes an RFC 5322 message. Replies quote the previous message of
// the thread (regenerated from its seed), as real mailboxes do.
func genEmail(seed uint64, idx int, r *rng, attach bool) []byte {
	from, to := email(r), email(r)
	t := randTime(r)
	subj := capitalize(word(r)) + " " + word(r) + " " + word(r)
	reply := idx > 0 && r.chance(0.4)
	var quoted []byte
	if reply {
		pr := newRNG(seed, "emailbody", uint64(idx-1))
		quoted = genEmailBody(pr)
		subj = "Re: " + subj
	}
	boundary := fmt.Sprintf("=_b%016x", r.u64())
	var b []byte
	b = fmt.Appendf(b, "Return-Path: <%s>\nReceived: from mx%d.%s (mx%d.%s [192.0.2.%d])\n\tby mail.example.org with ESMTPS id %x\n\tfor <%s>; %s\n",
		from, r.intn(9), pick(r, domains), r.intn(9), pick(r, domains), r.intn(254)+1, r.u64(), to, t.Format(time.RFC1123Z))
	b = fmt.Appendf(b, "Message-ID: <%x.%d@%s>\nDate: %s\nFrom: %s <%s>\nTo: %s\nSubject: %s\nMIME-Version: 1.0\n",
		r.u64(), idx, pick(r, domains), t.Format(time.RFC1123Z), personName(r), from, to, subj)
	body := genEmailBody(newRNG(seed, "emailbody", uint64(idx)))
	if !attach {
		b = append(b, "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"...)
		b = append(b, body...)
	} else {
		b = fmt.Appendf(b, "Content-Type: multipart/mixed; boundary=\"%s\"\n\nThis is a multi-part message in MIME format.\n\n--%s\nContent-Type: text/plain; charset=utf-8\n\n", boundary, boundary)
		b = append(b, body...)
	}
	if reply {
		b = fmt.Appendf(b, "\nOn %s, %s wrote:\n", t.Add(-time.Hour).Format("Mon, 2 Jan 2006 at 15:04"), personName(r))
		for _, line := range strings.Split(string(quoted), "\n") {
			b = append(b, "> "+line+"\n"...)
		}
	}
	if attach {
		var data []byte
		var name, ctype string
		if r.chance(0.5) {
			data = genJPEG(r, r.rangeInt(320, 900), r.rangeInt(240, 700), 85)
			name, ctype = fmt.Sprintf("IMG_%04d.jpg", r.intn(10000)), "image/jpeg"
		} else {
			data = genCSV(r, r.logUniform(5000, 150000))
			name, ctype = fmt.Sprintf("export-%d.csv", r.intn(1000)), "text/csv"
		}
		b = fmt.Appendf(b, "\n--%s\nContent-Type: %s; name=\"%s\"\nContent-Disposition: attachment; filename=\"%s\"\nContent-Transfer-Encoding: base64\n\n", boundary, ctype, name, name)
		b = appendBase64Lines(b, data)
		b = fmt.Appendf(b, "--%s--\n", boundary)
	}
	return b
}

func appendBase64Lines(b, data []byte) []byte {
	const enc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	col := 0
	for i := 0; i < len(data); i += 3 {
		var v uint32
		n := len(data) - i
		if n > 3 {
			n = 3
		}
		for j := 0; j < 3; j++ {
			v <<= 8
			if j < n {
				v |= uint32(data[i+j])
			}
		}
		out := [4]byte{enc[v>>18&63], enc[v>>12&63], enc[v>>6&63], enc[v&63]}
		if n < 3 {
			out[3] = '='
		}
		if n < 2 {
			out[2] = '='
		}
		b = append(b, out[:]...)
		col += 4
		if col >= 76 {
			b = append(b, '\n')
			col = 0
		}
	}
	if col > 0 {
		b = append(b, '\n')
	}
	return b
}

// ---- source code ----

func ident(r *rng, exported bool) string {
	n := r.rangeInt(1, 3)
	var sb strings.Builder
	for i := 0; i < n; i++ {
		w := word(r)
		if i > 0 || exported {
			w = capitalize(w)
		}
		sb.WriteString(w)
	}
	return sb.String()
}

var goImports = strings.Fields(`bufio bytes context errors fmt io os path/filepath sort strconv strings sync time
encoding/json net/http crypto/sha256 math`)

var licenceHeader = `// Copyright 2024 The Example Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

`

func genGoFile(r *rng, pkg string, size int) []byte {
	b := []byte(licenceHeader)
	b = fmt.Appendf(b, "// Package %s implements %s %s %s.\npackage %s\n\nimport (\n", pkg, word(r), word(r), word(r), pkg)
	n := r.rangeInt(1, 6)
	start := r.intn(len(goImports))
	for i := 0; i < n; i++ {
		b = fmt.Appendf(b, "\t%q\n", goImports[(start+i)%len(goImports)])
	}
	b = append(b, ")\n\n"...)
	for len(b) < size {
		switch r.intn(4) {
		case 0:
			name := ident(r, true)
			b = fmt.Appendf(b, "// %s holds the %s %s.\ntype %s struct {\n", name, word(r), word(r), name)
			for i := r.rangeInt(2, 8); i > 0; i-- {
				b = fmt.Appendf(b, "\t%s %s\n", ident(r, true), pick(r, []string{"int", "string", "[]byte", "bool", "time.Duration", "map[string]int", "*sync.Mutex", "error"}))
			}
			b = append(b, "}\n\n"...)
		case 1:
			b = fmt.Appendf(b, "const (\n")
			for i := r.rangeInt(2, 6); i > 0; i-- {
				b = fmt.Appendf(b, "\t%s = %d // %s %s\n", ident(r, r.chance(0.5)), r.intn(1<<16), word(r), word(r))
			}
			b = append(b, ")\n\n"...)
		default:
			fn := ident(r, r.chance(0.5))
			a1, a2 := ident(r, false), ident(r, false)
			b = fmt.Appendf(b, "// %s %s the %s %s.\nfunc %s(%s int, %s string) (int, error) {\n", fn, word(r)+"s", word(r), word(r), fn, a1, a2)
			for i := r.rangeInt(2, 10); i > 0; i-- {
				switch r.intn(5) {
				case 0:
					b = fmt.Appendf(b, "\tif %s > %d {\n\t\treturn 0, fmt.Errorf(\"%s: %%w\", errors.New(%q))\n\t}\n", a1, r.intn(1000), fn, word(r)+" "+word(r))
				case 1:
					b = fmt.Appendf(b, "\tfor i := 0; i < len(%s); i++ {\n\t\t%s += i * %d\n\t}\n", a2, a1, r.intn(64))
				case 2:
					b = fmt.Appendf(b, "\t// %s %s %s %s\n", word(r), word(r), word(r), word(r))
				case 3:
					k := r.intn(100)
					b = fmt.Appendf(b, "\tv%d := strings.TrimSpace(%s)\n\t_ = v%d\n", k, a2, k)
				default:
					b = fmt.Appendf(b, "\t%s = %s(%s, %s)\n", a1, ident(r, false), a1, strconv.Quote(word(r)))
				}
			}
			b = fmt.Appendf(b, "\treturn %s, nil\n}\n\n", a1)
		}
	}
	return b
}

func genCFile(r *rng, header bool, size int) []byte {
	b := []byte("/*\n * " + word(r) + " " + word(r) + " - " + word(r) + " " + word(r) + "\n *\n * SPDX-License-Identifier: MIT\n */\n\n")
	if header {
		g := strings.ToUpper(ident(r, true)) + "_H"
		b = fmt.Appendf(b, "#ifndef %s\n#define %s\n\n#include <stddef.h>\n#include <stdint.h>\n\n", g, g)
		for len(b) < size {
			b = fmt.Appendf(b, "/* %s %s %s */\nint %s_%s(const char *%s, size_t %s);\n", word(r), word(r), word(r), word(r), word(r), word(r), word(r))
			if r.chance(0.3) {
				b = fmt.Appendf(b, "#define %s_%s %d\n", strings.ToUpper(word(r)), strings.ToUpper(word(r)), r.intn(4096))
			}
		}
		return append(b, "\n#endif\n"...)
	}
	b = append(b, "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n\n"...)
	for len(b) < size {
		fn := word(r) + "_" + word(r)
		b = fmt.Appendf(b, "static int %s(const char *buf, size_t len)\n{\n\tsize_t i;\n\tint acc = %d;\n\n", fn, r.intn(100))
		for i := r.rangeInt(2, 8); i > 0; i-- {
			switch r.intn(3) {
			case 0:
				b = fmt.Appendf(b, "\tfor (i = 0; i < len; i++)\n\t\tacc += buf[i] * %d;\n", r.intn(31))
			case 1:
				b = fmt.Appendf(b, "\tif (acc > %d) {\n\t\tfprintf(stderr, \"%s %s\\n\");\n\t\treturn -1;\n\t}\n", r.intn(9999), word(r), word(r))
			default:
				b = fmt.Appendf(b, "\t/* %s %s %s */\n", word(r), word(r), word(r))
			}
		}
		b = append(b, "\treturn acc;\n}\n\n"...)
	}
	return b
}

// ---- SQL dump ----

func sqlRow(b []byte, r *rng, id int) []byte {
	t := randTime(r)
	return fmt.Appendf(b, "(%d,'%s','%s','%s',%d.%02d,'%s','%s %s %s %s')", id, t.Format("2006-01-02 15:04:05"),
		personName(r), email(r), r.intn(10000), r.intn(100),
		pick(r, []string{"new", "paid", "shipped", "cancelled", "refunded"}), word(r), word(r), word(r), word(r))
}

func sqlTableHeader(b []byte, table string) []byte {
	return fmt.Appendf(b, "\n--\n-- Table structure for table `%s`\n--\n\nDROP TABLE IF EXISTS `%s`;\nCREATE TABLE `%s` (\n  `id` int NOT NULL AUTO_INCREMENT,\n  `created_at` datetime NOT NULL,\n  `name` varchar(255) NOT NULL,\n  `email` varchar(255) NOT NULL,\n  `amount` decimal(10,2) NOT NULL,\n  `status` varchar(16) NOT NULL,\n  `note` text,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n\nLOCK TABLES `%s` WRITE;\n", table, table, table, table)
}

// sqlInsert appends one extended INSERT line of 10-40 rows.
func sqlInsert(b []byte, r *rng, table string, id *int) []byte {
	b = fmt.Appendf(b, "INSERT INTO `%s` VALUES ", table)
	n := r.rangeInt(10, 40)
	for i := 0; i < n; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		*id++
		b = sqlRow(b, r, *id)
	}
	return append(b, ";\n"...)
}
