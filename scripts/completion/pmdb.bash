# bash completion for pmdb(1). Installed as share/bash-completion/completions/pmdb; to try it
# from a checkout: `source scripts/completion/pmdb.bash`.
#
# Completes the commands, their options, the values of --mode, --headers, --format and --tz,
# store files (*.pmdb), input files, and incident ids (read from the store named earlier on the
# line, read-only). It needs nothing from the bash-completion package.

# Words of a list (separated by blanks), filtered by the word being completed.
_pmdb_words() {
  local IFS=$' \t\n'
  COMPREPLY+=($(compgen -W "$1" -- "$2"))
}

# Files matching a glob (e.g. '*.pmdb'), and directories to walk into.
_pmdb_files() {
  local cur=$1 glob=$2 IFS=$'\n'
  compopt -o filenames 2>/dev/null
  if [[ -n $glob ]]; then
    COMPREPLY+=($(compgen -f -X "!$glob" -- "$cur"))
  else
    COMPREPLY+=($(compgen -f -- "$cur"))
  fi
  COMPREPLY+=($(compgen -d -- "$cur"))
}

# The incident ids of the store DB, when it is a readable file.
_pmdb_incidents() {
  local db=$1 cur=$2
  [[ -n $db && -f $db && -r $db ]] || return 0
  local ids
  ids=$("${_pmdb_cmd:-pmdb}" "$db" --readonly --mode tsv --headers off -c 'incidents | select id' 2>/dev/null) || return 0
  _pmdb_words "$ids" "$cur"
}

# IANA time zone names, from the system's zone table.
_pmdb_zones() {
  local zones="UTC"
  if [[ -r /usr/share/zoneinfo/zone1970.tab ]]; then
    zones+=$'\n'$(awk '!/^#/ { print $3 }' /usr/share/zoneinfo/zone1970.tab)
  fi
  _pmdb_words "$zones" "$1"
}

_pmdb() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
  local _pmdb_cmd=${COMP_WORDS[0]}
  COMPREPLY=()

  local modes="table box markdown csv tsv json jsonl line"
  local commands="import export rebuild verify report help"
  local shell_opts="-c -f --mode --headers --bail --no-bail --echo --readonly --safe --tz --as-of --now
--source -h --help --version"
  shell_opts+=" --table --box --markdown --csv --tsv --json --jsonl --line --nullvalue --init --no-init"

  # The command, and the positional arguments already given after it.
  local cmd="" i word
  local -a pos=()
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=${COMP_WORDS[i]}
    if [[ $i -eq 1 && " $commands " == *" $word "* ]]; then
      cmd=$word
      continue
    fi
    case $word in
      -c | -f | --mode | --headers | --tz | --as-of | --now | --source | --init | --format | --prefix | --map | --from | -o | --nullvalue)
        ((i++)) ;;  # an option and its value
      -*) ;;
      *) pos+=("$word") ;;
    esac
  done

  # The value of an option.
  case $prev in
    --mode) _pmdb_words "$modes" "$cur"; return 0 ;;
    --headers) _pmdb_words "on off" "$cur"; return 0 ;;
    --format)
      if [[ $cmd == report ]]; then _pmdb_words "markdown html" "$cur"
      else _pmdb_words "jsonl statuspage csv" "$cur"; fi
      return 0 ;;
    --tz) _pmdb_zones "$cur"; return 0 ;;
    -f) _pmdb_files "$cur" '*.pmq'; return 0 ;;
    -o) _pmdb_files "$cur" ''; return 0 ;;
    --init) _pmdb_files "$cur" ''; return 0 ;;
    -c | --as-of | --now | --source | --prefix | --map | --from | --nullvalue) return 0 ;;
  esac

  case $cmd in
    import)
      if [[ $cur == -* ]]; then _pmdb_words "--format --prefix --tz --map --fast --help" "$cur"
      elif [[ ${#pos[@]} -eq 0 ]]; then _pmdb_files "$cur" '*.pmdb'
      else _pmdb_files "$cur" ''; fi ;;
    export)
      if [[ $cur == -* ]]; then _pmdb_words "--help" "$cur"
      elif [[ ${#pos[@]} -eq 0 ]]; then _pmdb_files "$cur" '*.pmdb'
      else _pmdb_incidents "${pos[0]}" "$cur"; fi ;;
    rebuild)
      if [[ $cur == -* ]]; then _pmdb_words "--help" "$cur"
      elif [[ ${#pos[@]} -eq 0 ]]; then _pmdb_files "$cur" '*.pmdb'; fi ;;
    verify)
      if [[ $cur == -* ]]; then _pmdb_words "--from --help" "$cur"
      elif [[ ${#pos[@]} -eq 0 ]]; then _pmdb_files "$cur" '*.pmdb'; fi ;;
    report)
      # --format (markdown|html) is being added alongside.
      if [[ $cur == -* ]]; then _pmdb_words "-o --as-of --now --tz --format --help" "$cur"
      elif [[ ${#pos[@]} -eq 0 ]]; then _pmdb_files "$cur" '*.pmdb'
      elif [[ ${#pos[@]} -eq 1 ]]; then _pmdb_incidents "${pos[0]}" "$cur"; fi ;;
    help) ;;
    *)
      if [[ $cur == -* ]]; then _pmdb_words "$shell_opts" "$cur"
      elif [[ ${#pos[@]} -eq 0 ]]; then
        [[ $COMP_CWORD -eq 1 ]] && _pmdb_words "$commands" "$cur"
        _pmdb_files "$cur" '*.pmdb'
      fi ;;
  esac
  return 0
}

complete -F _pmdb pmdb
