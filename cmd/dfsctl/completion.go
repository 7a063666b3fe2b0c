package main

import (
	"flag"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// completionShells are the shells dfsctl completion writes scripts for.
var completionShells = []string{"bash", "zsh", "fish"}

// runCompletion prints the completion script for the shell in args.
func runCompletion(e *env, args []string) int {
	if len(args) != 1 {
		return e.usageError("completion takes one shell: %s", strings.Join(completionShells, ", "))
	}
	spec := completionSpec()
	var script string
	switch args[0] {
	case "bash":
		script = bashCompletion(spec)
	case "zsh":
		script = zshCompletion(spec)
	case "fish":
		script = fishCompletion(spec)
	default:
		return e.usageError("no completion for the shell %q: choose %s", args[0], strings.Join(completionShells, ", "))
	}
	if _, err := fmt.Fprint(e.stdout, script); err != nil {
		return e.fail(err)
	}
	return exitOK
}

// complFlag is a flag as completion sees it.
type complFlag struct {
	name  string // without dashes
	value string // the value's name (DIR, FILE, N, ...); "" for a bool flag
	desc  string
}

// dash is the flag as offered: -n for one letter, --name else.
func (f complFlag) dash() string {
	if len(f.name) == 1 {
		return "-" + f.name
	}
	return "--" + f.name
}

// spellings are every way to write the flag: Go takes one dash or two.
func (f complFlag) spellings() []string { return []string{"-" + f.name, "--" + f.name} }

// complCommand is a command as completion sees it.
type complCommand struct {
	name, summary string
	flags         []complFlag // its own, not the global ones
	dirArg        bool        // it takes a directory
	words         []string    // the words its argument may be
}

// complSpec is everything the scripts complete.
type complSpec struct {
	globals  []complFlag
	commands []complCommand
}

// helpFlag is the flag every command answers with its help.
var helpFlag = complFlag{name: "help", desc: "print the help"}

// globalFlagLine is a line of flagsUsage that starts a flag's description.
var globalFlagLine = regexp.MustCompile(`^  --([a-z-]+)(?: ([A-Z:]+))?  +(.+)$`)

// completionSpec reads the flags and commands from the command table and
// the flag sets, so that the scripts follow them. The global flags'
// descriptions and value names come from flagsUsage.
func completionSpec() complSpec {
	described := map[string]complFlag{}
	last := ""
	for _, line := range strings.Split(flagsUsage, "\n") {
		if m := globalFlagLine.FindStringSubmatch(line); m != nil {
			described[m[1]] = complFlag{name: m[1], value: m[2], desc: m[3]}
			last = m[1]
		} else if f, ok := described[last]; ok && strings.HasPrefix(line, "    ") {
			f.desc += " " + strings.TrimSpace(line)
			described[last] = f
		} else {
			last = ""
		}
	}
	var spec complSpec
	globalNames := map[string]bool{}
	newFlagSet(&globals{}).VisitAll(func(f *flag.Flag) {
		globalNames[f.Name] = true
		cf, ok := described[f.Name]
		if !ok {
			cf = flagOf(f)
		}
		spec.globals = append(spec.globals, cf)
	})
	spec.globals = append(spec.globals, helpFlag)
	for _, c := range commands {
		fs := newFlagSet(&globals{})
		c.setup(fs)
		cc := complCommand{name: c.name, summary: c.summary, dirArg: strings.Contains(c.args, "DIR")}
		fs.VisitAll(func(f *flag.Flag) {
			if !globalNames[f.Name] && f.Name != "h" && f.Name != "help" {
				cf := flagOf(f)
				// A flag without a back-quoted name in its usage: the
				// name the command's args give it ("[-n N]").
				if m := regexp.MustCompile(`-` + regexp.QuoteMeta(f.Name) + `[ =]([A-Z]+)`).FindStringSubmatch(c.args); m != nil && cf.value != "" {
					cf.value = m[1]
				}
				cc.flags = append(cc.flags, cf)
			}
		})
		if c.name == "completion" {
			cc.words = completionShells
		}
		spec.commands = append(spec.commands, cc)
	}
	return spec
}

// flagOf describes a flag from its flag set: the value's name is the
// usage's back-quoted word, else "VALUE".
func flagOf(f *flag.Flag) complFlag {
	cf := complFlag{name: f.Name}
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		cf.desc = f.Usage
		return cf
	}
	name, usage := flag.UnquoteUsage(f)
	cf.desc, cf.value = usage, "VALUE"
	if strings.Contains(f.Usage, "`") {
		cf.value = name
	}
	return cf
}

// valueFlags are every flag that takes a value, of every command.
func (s complSpec) valueFlags() []complFlag {
	var out []complFlag
	seen := map[string]bool{}
	for _, f := range s.allFlags() {
		if f.value != "" && !seen[f.name] {
			seen[f.name] = true
			out = append(out, f)
		}
	}
	return out
}

func (s complSpec) allFlags() []complFlag {
	all := slices.Clone(s.globals)
	for _, c := range s.commands {
		all = append(all, c.flags...)
	}
	return all
}

func dashes(flags []complFlag) string {
	var out []string
	for _, f := range flags {
		out = append(out, f.dash())
	}
	return strings.Join(out, " ")
}

// casePattern is a shell case pattern matching every spelling of flags.
func casePattern(flags []complFlag) string {
	var out []string
	for _, f := range flags {
		out = append(out, f.spellings()...)
	}
	return strings.Join(out, "|")
}

// bashCompletion is the bash script.
func bashCompletion(s complSpec) string {
	var b strings.Builder
	var names []string
	for _, c := range s.commands {
		names = append(names, c.name)
	}
	var dirFlags, fileFlags, otherFlags []complFlag
	for _, f := range s.valueFlags() {
		switch f.value {
		case "DIR":
			dirFlags = append(dirFlags, f)
		case "FILE":
			fileFlags = append(fileFlags, f)
		default:
			otherFlags = append(otherFlags, f)
		}
	}
	fmt.Fprintf(&b, `# bash completion for dfsctl, made by "dfsctl completion bash".
# Load it with: source <(dfsctl completion bash)
# or save it as /etc/bash_completion.d/dfsctl.

_dfsctl() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=
	((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD-1]}
	# "=" breaks words: --data=DIR is the words --data, = and DIR.
	if [[ $cur == = ]]; then
		cur=
	elif [[ $prev == = ]] && ((COMP_CWORD > 1)); then
		prev=${COMP_WORDS[COMP_CWORD-2]}
	fi
	COMPREPLY=()
	# The value of a flag.
	case $prev in
`)
	if len(dirFlags) > 0 {
		fmt.Fprintf(&b, "\t%s)\n\t\tcompopt -o filenames 2>/dev/null\n\t\tmapfile -t COMPREPLY < <(compgen -d -- \"$cur\")\n\t\treturn ;;\n", casePattern(dirFlags))
	}
	if len(fileFlags) > 0 {
		fmt.Fprintf(&b, "\t%s)\n\t\tcompopt -o filenames 2>/dev/null\n\t\tmapfile -t COMPREPLY < <(compgen -f -- \"$cur\")\n\t\treturn ;;\n", casePattern(fileFlags))
	}
	if len(otherFlags) > 0 {
		fmt.Fprintf(&b, "\t%s)\n\t\treturn ;;\n", casePattern(otherFlags))
	}
	fmt.Fprintf(&b, `	esac
	# The command: the first word that is neither a flag nor a flag's value.
	local cmd= i
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		%s)
			if [[ ${COMP_WORDS[i+1]} == = ]]; then ((i += 2)); else ((i++)); fi ;;
		=) ((i++)) ;;
		-*) ;;
		*) cmd=${COMP_WORDS[i]}; break ;;
		esac
	done
	local globals=%s flags
	case $cmd in
	"")
		if [[ $cur == -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W "$globals" -- "$cur")
		else
			mapfile -t COMPREPLY < <(compgen -W %s -- "$cur")
		fi
		return ;;
`, casePattern(s.valueFlags()), shQuote(dashes(s.globals)), shQuote(strings.Join(names, " ")))
	for _, c := range s.commands {
		if len(c.flags) > 0 {
			fmt.Fprintf(&b, "\t%s) flags=%s ;;\n", c.name, shQuote(dashes(c.flags)))
		}
	}
	b.WriteString(`	esac
	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$flags $globals" -- "$cur")
		return
	fi
	case $cmd in
`)
	for _, c := range s.commands {
		switch {
		case c.dirArg:
			fmt.Fprintf(&b, "\t%s)\n\t\tcompopt -o filenames 2>/dev/null\n\t\tmapfile -t COMPREPLY < <(compgen -d -- \"$cur\") ;;\n", c.name)
		case len(c.words) > 0:
			fmt.Fprintf(&b, "\t%s) mapfile -t COMPREPLY < <(compgen -W %s -- \"$cur\") ;;\n", c.name, shQuote(strings.Join(c.words, " ")))
		}
	}
	b.WriteString(`	esac
}

complete -F _dfsctl dfsctl
`)
	return b.String()
}

// zshCompletion is the zsh script.
func zshCompletion(s complSpec) string {
	var b strings.Builder
	b.WriteString(`#compdef dfsctl
# zsh completion for dfsctl, made by "dfsctl completion zsh".
# Load it with: source <(dfsctl completion zsh)
# or save it as _dfsctl in a directory of $fpath.

_dfsctl() {
	local -a globals commands
	globals=(
`)
	for _, f := range s.globals {
		fmt.Fprintf(&b, "\t\t%s\n", shQuote(zshFlag(f)))
	}
	b.WriteString("\t)\n\tcommands=(\n")
	for _, c := range s.commands {
		fmt.Fprintf(&b, "\t\t%s\n", shQuote(c.name+":"+c.summary))
	}
	b.WriteString(`	)
	local curcontext=$curcontext state line
	typeset -A opt_args
	_arguments -C $globals ': :->command' '*:: :->argument' && return
	case $state in
	command)
		_describe -t commands 'dfsctl command' commands ;;
	argument)
		curcontext=${curcontext%:*:*}:dfsctl-$words[1]:
		case $words[1] in
`)
	for _, c := range s.commands {
		var specs []string
		for _, f := range c.flags {
			specs = append(specs, shQuote(zshFlag(f)))
		}
		switch {
		case c.dirArg:
			specs = append(specs, shQuote(":directory:_files -/"))
		case len(c.words) > 0:
			specs = append(specs, shQuote(":"+c.name+":("+strings.Join(c.words, " ")+")"))
		}
		if len(specs) > 0 {
			fmt.Fprintf(&b, "\t\t%s)\n\t\t\t_arguments $globals %s ;;\n", c.name, strings.Join(specs, " "))
		}
	}
	b.WriteString(`		*)
			_arguments $globals ;;
		esac ;;
	esac
}

if [[ $funcstack[1] == _dfsctl ]]; then
	_dfsctl "$@"
else
	compdef _dfsctl dfsctl
fi
`)
	return b.String()
}

// zshFlag is an _arguments spec: --name=[description]:VALUE:action.
func zshFlag(f complFlag) string {
	desc := strings.NewReplacer(`\`, `\\`, "[", `\[`, "]", `\]`).Replace(f.desc)
	if desc != "" {
		desc = "[" + desc + "]"
	}
	if f.value == "" {
		return f.dash() + desc
	}
	action := " "
	switch f.value {
	case "DIR":
		action = "_files -/"
	case "FILE":
		action = "_files"
	}
	return f.dash() + "=" + desc + ":" + strings.ReplaceAll(f.value, ":", `\:`) + ":" + action
}

// shQuote quotes s for bash and zsh: in single quotes.
func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// fishCompletion is the fish script.
func fishCompletion(s complSpec) string {
	var b strings.Builder
	var names []string
	for _, c := range s.commands {
		names = append(names, c.name)
	}
	fmt.Fprintf(&b, `# fish completion for dfsctl, made by "dfsctl completion fish".
# Load it with: dfsctl completion fish | source
# or save it as ~/.config/fish/completions/dfsctl.fish.

set -l commands %s
complete -c dfsctl -f
`, strings.Join(names, " "))
	for _, c := range s.commands {
		fmt.Fprintf(&b, "complete -c dfsctl -n \"not __fish_seen_subcommand_from $commands\" -a %s -d %s\n",
			c.name, fishQuote(c.summary))
	}
	for _, f := range s.globals {
		fmt.Fprintf(&b, "complete -c dfsctl %s\n", fishFlag(f))
	}
	for _, c := range s.commands {
		cond := fmt.Sprintf("-n \"__fish_seen_subcommand_from %s\"", c.name)
		for _, f := range c.flags {
			fmt.Fprintf(&b, "complete -c dfsctl %s %s\n", cond, fishFlag(f))
		}
		switch {
		case c.dirArg:
			fmt.Fprintf(&b, "complete -c dfsctl %s -a '(__fish_complete_directories)'\n", cond)
		case len(c.words) > 0:
			fmt.Fprintf(&b, "complete -c dfsctl %s -a %s\n", cond, fishQuote(strings.Join(c.words, " ")))
		}
	}
	return b.String()
}

// fishFlag is a flag's options of fish's complete.
func fishFlag(f complFlag) string {
	opt := "-l " + f.name
	if len(f.name) == 1 {
		opt = "-s " + f.name
	}
	switch f.value {
	case "":
	case "DIR":
		opt += " -x -a '(__fish_complete_directories)'"
	case "FILE":
		opt += " -r -F"
	default:
		opt += " -x"
	}
	if f.desc != "" {
		opt += " -d " + fishQuote(f.desc)
	}
	return opt
}

// fishQuote quotes s for fish: in single quotes, where only \ and ' are
// special.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, "'", `\'`).Replace(s) + "'"
}
