# md2man.awk - docs/configuration.md as the body of sensorbridge.conf(5), so
# that the man page's sections, keys and defaults are the reference's own
# (test_docs holds that one to src/config.c's option table) and no third
# copy of the key table is kept by hand:
#
#   awk -f md2man.awk TEMPLATE MARKDOWN > sensorbridge.conf.5
#
# TEMPLATE is printed with its line '.\" docs/configuration.md' (a roff
# comment) replaced by MARKDOWN in man(7) markup. Only what
# docs/configuration.md uses is understood: headings (## .SH, ### and
# #### .SS), paragraphs, "- " lists, ``` blocks, tables (each row a .TP:
# the first cell the tag, the others "Header: cell"), `code` (bold),
# **bold**, *italic*, [text](link) (the text), &lt; &gt; and a few non-ASCII
# characters (as groff escapes). The H1 is the man page's title, so it is
# left out.

BEGIN { MARK = ".\\\" docs/configuration.md" }

FNR == NR { tmpl[++nt] = $0; next }
{ md[++nm] = $0 }

END {
    for (i = 1; i <= nt; i++) {
        if (tmpl[i] == MARK)
            convert()
        else
            print tmpl[i]
    }
}

function chars(s) {
    gsub(/&lt;/, "<", s); gsub(/&gt;/, ">", s); gsub(/&amp;/, "\\&", s)
    gsub(/–/, "\\(en", s); gsub(/—/, "\\(em", s); gsub(/…/, "\\&...", s)
    gsub(/≤/, "\\(<=", s); gsub(/≥/, "\\(>=", s); gsub(/×/, "\\(mu", s)
    gsub(/·/, "\\(md", s); gsub(/°/, "\\(de", s)
    return s
}

# Emphasis outside code: **x** bold, *x* italic.
function emph(s,   out) {
    while (match(s, /\*\*[^*]+\*\*/)) {
        s = substr(s, 1, RSTART - 1) "\\fB" substr(s, RSTART + 2, RLENGTH - 4) "\\fR" \
            substr(s, RSTART + RLENGTH)
    }
    while (match(s, /\*[^* ][^*]*\*/)) {
        s = substr(s, 1, RSTART - 1) "\\fI" substr(s, RSTART + 1, RLENGTH - 2) "\\fR" \
            substr(s, RSTART + RLENGTH)
    }
    return s
}

function inline(s,   n, seg, i, out, t, k) {
    # [text](link) -> text
    while (match(s, /\[[^]]*\]\([^)]*\)/)) {
        t = substr(s, RSTART, RLENGTH)
        k = index(t, "](")
        s = substr(s, 1, RSTART - 1) substr(t, 2, k - 2) substr(s, RSTART + RLENGTH)
    }
    n = split(s, seg, "`")
    out = ""
    for (i = 1; i <= n; i++) {
        if (i % 2 == 0) {
            gsub(/-/, "\\-", seg[i])
            out = out "\\fB" seg[i] "\\fR"
        } else {
            out = out emph(seg[i])
        }
    }
    return chars(out)
}

# A text line roff must not take for a request.
function text(s) {
    sub(/^ +/, "", s)
    if (s ~ /^[.']/)
        s = "\\&" s
    print s
}

function trim(s) {
    gsub(/^ +| +$/, "", s)
    return s
}

# A blank line ends a paragraph; .PP is printed only before more text, not
# before a heading, a table row or a list item, which start their own.
function para() {
    if (pending)
        print ".PP"
    pending = 0
}

function convert(   i, line, code, hdr, c, j, n, h) {
    code = 0
    pending = 0
    for (i = 1; i <= nm; i++) {
        line = md[i]
        if (line ~ /^```/) {
            if (!code) {
                pending = 1
                para()
                print ".RS"
                print ".nf"
            } else {
                print ".fi"
                print ".RE"
            }
            code = !code
            continue
        }
        if (code) {
            line = chars(line)
            if (line ~ /^[.']/)
                line = "\\&" line
            print line
            continue
        }
        if (line ~ /^# /)
            continue
        if (line ~ /^## /) {
            pending = 0
            h = substr(line, 4)
            print ".SH \"" toupper(inline(h)) "\""
            continue
        }
        if (line ~ /^###+ /) {
            pending = 0
            sub(/^###+ /, "", line)
            print ".SS \"" inline(line) "\""
            continue
        }
        if (line ~ /^\|/ && md[i + 1] ~ /^\|---/) {
            split(line, hdr, "|")
            i++
            continue
        }
        if (line ~ /^\|/) {
            pending = 0
            n = split(line, c, "|")
            print ".TP"
            text(inline(trim(c[2])))
            for (j = 3; j < n; j++) {
                if (j > 3)
                    print ".br"
                text(inline(trim(hdr[j])) ": " inline(trim(c[j])))
            }
            continue
        }
        if (line == "") {
            pending = 1
            continue
        }
        if (line ~ /^- /) {
            pending = 0
            print ".IP \\(bu 2"
            text(inline(substr(line, 3)))
            continue
        }
        para()
        text(inline(line))
    }
}
