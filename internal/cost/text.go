package cost

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteText writes the estimate for a reader, after a plan:
//
//	Estimated monthly cost (on-demand list prices of 2025-05-28, USD; an estimate):
//	  + us-east-1  NAT gateway  3 × $0.045/hour  $98.55
//	  +$98.55/month (from $0.00 to $98.55)
func (e *Estimate) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Estimated monthly cost (on-demand list prices of %s, %s; an estimate):\n", e.PricesDate, e.Currency)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, l := range e.Lines {
		sign := "+"
		if l.Change == "remove" {
			sign = "-"
		}
		price, monthly := "no price", "?"
		if l.Priced {
			price = fmt.Sprintf("$%s/%s", strconv.FormatFloat(l.UnitPrice, 'f', -1, 64), l.Unit)
			if l.Source == SourcePriceList {
				price += " (Price List API)"
			}
			monthly = money(l.Monthly, sign == "-")
		}
		count := strconv.FormatFloat(l.Count, 'f', -1, 64)
		if l.Unit == PerGBMonth {
			count += " GB"
		}
		fmt.Fprintf(tw, "  %s %s\t  %s\t  %s × %s\t  %s\n", sign, l.Region, l.What, count, price, monthly)
	}
	tw.Flush()
	partial := ""
	if !e.Totals.Complete && e.Totals.Unpriced > 0 {
		items := "items"
		if e.Totals.Unpriced == 1 {
			items = "item"
		}
		partial = fmt.Sprintf(" (excluding %d %s with no price: %s)", e.Totals.Unpriced, items, strings.Join(e.Totals.Excluded, ", "))
	}
	if len(e.Lines) == 0 {
		fmt.Fprintf(&b, "  no change: %s/month%s\n", money(e.Totals.After, false), partial)
	} else {
		change := money(e.Totals.Change, e.Totals.Change < 0)
		if e.Totals.Change >= 0 {
			change = "+" + change
		}
		fmt.Fprintf(&b, "  %s/month (from %s to %s)%s\n", change, money(e.Totals.Before, false), money(e.Totals.After, false), partial)
	}
	if e.PriceListDate != "" {
		fmt.Fprintf(&b, "  prices marked (Price List API) were asked of AWS's Price List Query API, prices of %s, not the shipped table of %s\n", e.PriceListDate, e.PricesDate)
	}
	for _, u := range e.Unpriced {
		fmt.Fprintf(&b, "  not priced: %s\n", u)
	}
	for _, n := range e.Notes {
		fmt.Fprintf(&b, "  %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// money writes an amount in dollars and cents, negative when minus.
func money(v float64, minus bool) string {
	if v < 0 {
		v = -v
	}
	s := "$" + strconv.FormatFloat(v, 'f', 2, 64)
	if minus {
		return "-" + s
	}
	return s
}
