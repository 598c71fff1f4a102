package phi

import (
	"regexp"
	"strings"
)

// stateAbbrevs are the USPS codes of states, DC and territories. States
// are not PHI; they anchor the city and ZIP code before and after them.
const stateAbbrevs = `AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|PR|VI|GU|AS|MP`

const stateNames = `Alabama|Alaska|Arizona|Arkansas|California|Colorado|Connecticut|Delaware|Florida|Georgia|Hawaii|Idaho|Illinois|Indiana|Iowa|Kansas|Kentucky|Louisiana|Maine|Maryland|Massachusetts|Michigan|Minnesota|Mississippi|Missouri|Montana|Nebraska|Nevada|New Hampshire|New Jersey|New Mexico|New York|North Carolina|North Dakota|Ohio|Oklahoma|Oregon|Pennsylvania|Rhode Island|South Carolina|South Dakota|Tennessee|Texas|Utah|Vermont|Virginia|Washington|West Virginia|Wisconsin|Wyoming|Puerto Rico|District of Columbia`

const streetSuffix = `(?i:street|st|avenue|ave|av|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|place|pl|way|terrace|ter|circle|cir|parkway|pkwy|highway|hwy|trail|trl|square|sq|plaza|plz|row|loop|path|pike|alley|aly|crescent|cres|close|run|crossing|xing|point|ridge|heights|hts|landing|commons|walk|expressway|expy|freeway|fwy|turnpike|tpke|causeway|lndg|glen|grove|hollow|manor|mews|park|view|vista|green|meadow|meadows|bend|cove|creek|hill|hills|estates|gardens|harbor|knoll|oval|pass|spur|summit|trace|track|village|ville)`

type addressPatterns struct {
	street, route, poBox, cityStateZIP, cityState, zipLabel, zip4, county, cityLabel, lives *regexp.Regexp
}

func newAddressPatterns() addressPatterns {
	word := `[A-Z0-9][A-Za-z0-9'’.\-]*`
	unit := `(?:,?\s*(?i:apt|apartment|suite|ste|unit|fl|floor|bldg|building|rm|room|lot|spc|space|#)\.?\s*#?\s*[A-Za-z0-9\-]+)?`
	city := `[A-Z][A-Za-z.'’\-]+(?:[ ](?:d'|de |del |la |los |las |du )?[A-Z][A-Za-z.'’\-]+){0,2}`
	return addressPatterns{
		street:       regexp.MustCompile(`\b\d{1,6}[A-Za-z]?(?:-\d{1,4})?(?:\s+(?i:N|S|E|W|NE|NW|SE|SW|North|South|East|West)\.?)?(?:[ \t]+` + word + `){1,4}[ \t]+` + streetSuffix + `\b\.?(?:\s+(?:N|S|E|W|NE|NW|SE|SW)\b\.?)?` + unit),
		route:        regexp.MustCompile(`\b\d{1,6}\s+(?i:route|rte|highway|hwy|county\s+road|state\s+road|state\s+route|farm\s+road|rural\s+route|rr)\s+\d{1,4}[A-Za-z]?\b` + unit),
		poBox:        ci(`(?i)\b(?:p\.?\s?o\.?\s*box|post\s+office\s+box|box)\s+#?\d+\b`),
		cityStateZIP: regexp.MustCompile(`(?:^|[\s,(])(` + city + `)\s*,?\s+(?:` + stateAbbrevs + `|` + stateNames + `)\.?,?\s+(\d{5}(?:-\d{4})?)\b`),
		cityState:    regexp.MustCompile(`(?:^|[\s(])(` + city + `),\s+(?:` + stateAbbrevs + `)\b`),
		zipLabel:     ci(`(?i:\b(?:zip|postal)(?:\s*code)?\s*[:#]?\s*)(\d{5}(?:-\d{4})?)\b`),
		zip4:         regexp.MustCompile(`\b\d{5}-\d{4}\b`),
		county:       regexp.MustCompile(`\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?\s+(?:County|Parish|Borough|Township)\b`),
		cityLabel:    regexp.MustCompile(`(?i:\b(?:city|town|municipality|place\s+of\s+birth|birthplace|county)\s*:\s*)(` + city + `)`),
		lives:        regexp.MustCompile(`(?i:\b(?:lives|living|resides|residing|reside|moved|relocated|born|grew\s+up|resident|native|works|employed)\s+(?:(?:here\s+)?(?:in|at|to|from|of)\s+)(?:the\s+)?)(` + city + `)`),
	}
}

// detectAddresses finds street addresses, cities, counties and ZIP codes.
func (sc *scan) detectAddresses() {
	p := &sc.d.addr
	t := sc.text
	for _, re := range []*regexp.Regexp{p.street, p.route, p.poBox} {
		in := t
		if re == p.poBox {
			in = sc.lower
		}
		for _, m := range re.FindAllStringIndex(in, -1) {
			if sc.isCodeContext(m[0]) {
				continue
			}
			sc.add(m[0], m[1], Address, prioAddress)
		}
	}
	for _, m := range p.cityStateZIP.FindAllStringSubmatchIndex(t, -1) {
		if sc.cityOK(t[m[2]:m[3]]) {
			sc.add(m[2], m[3], Address, prioAddress)
		}
		sc.add(m[4], m[5], ZIP, prioAddress+1)
	}
	for _, m := range p.cityState.FindAllStringSubmatchIndex(t, -1) {
		if st := t[m[1]-2 : m[1]]; st == "MD" || st == "PA" || st == "DO" {
			continue // "Maria Gonzalez, MD" is a credential
		}
		if sc.cityOK(t[m[2]:m[3]]) {
			sc.add(m[2], m[3], Address, prioAddress)
		}
	}
	for _, m := range p.zipLabel.FindAllStringSubmatchIndex(sc.lower, -1) {
		sc.add(m[2], m[3], ZIP, prioAddress+1)
	}
	for _, m := range p.zip4.FindAllStringIndex(t, -1) {
		if m[1] < len(t) && t[m[1]] == '-' || m[0] > 0 && t[m[0]-1] == '-' || sc.isCodeContext(m[0]) {
			continue // 00071-0155-23 is a drug code
		}
		sc.add(m[0], m[1], ZIP, prioAddress)
	}
	for _, m := range p.county.FindAllStringIndex(t, -1) {
		sc.add(m[0], m[1], Address, prioAddress)
	}
	for _, re := range []*regexp.Regexp{p.cityLabel, p.lives} {
		for _, m := range re.FindAllStringSubmatchIndex(t, -1) {
			if sc.cityOK(t[m[2]:m[3]]) {
				sc.add(m[2], m[3], Address, prioAddress)
			}
		}
	}
}

// cityOK rejects "cities" that are states, countries or clinical words.
func (sc *scan) cityOK(c string) bool {
	words := strings.Fields(c)
	if len(words) == 0 {
		return false
	}
	for _, w := range words {
		if sc.d.names.stop[strings.ToLower(strings.Trim(w, ".,"))] && !sc.d.names.cityWord[strings.ToLower(w)] {
			return false
		}
	}
	return true
}
