#!/usr/bin/env python3
"""Writes the three manual pages from their .in templates and two sources the
code itself uses: the YAML schema tables (mm_schema_dump's JSON) and the
command line's definitions (marketplace-milter --cli-reference).

    make_man.py --schema-dump BIN --binary BIN --templates DIR --out DIR
                --version V --confdir DIR
"""
import argparse
import json
import pathlib
import subprocess


def roff(text):
    """Plain text as a roff text line: backslashes and hyphens escaped, and a
    line never starting with a control character."""
    text = text.replace('\\', '\\e').replace('-', '\\-')
    if text[:1] in ('.', "'"):
        text = '\\&' + text
    return text


def key_entries(keys, prefix=''):
    """(dotted path, key) for every key, depth first, in table order."""
    for key in keys:
        path = prefix + key['name']
        yield path, key
        if 'keys' in key:
            inner = path + ('[].' if key['type'].startswith('list') else '.')
            yield from key_entries(key['keys'], inner)


def keys_roff(keys):
    lines = []
    for path, key in key_entries(keys):
        facts = [key['type']]
        if key['required']:
            facts.append('required')
        elif key['default']:
            facts.append('default ' + key['default'])
        lines += ['.TP', '.B ' + roff(path), roff('(' + '; '.join(facts) + ')'),
                  '.br', roff(key['description'])]
    return '\n'.join(lines)


def metavariable(cli11_type):
    """CLI11's type names as a reader expects them: TEXT is a VALUE, a choice
    shows its choices."""
    if cli11_type.startswith('TEXT:'):
        return cli11_type[len('TEXT:'):]
    return {'TEXT': 'VALUE', 'INT': 'N', 'UINT': 'N', 'FLOAT': 'NUMBER'}.get(cli11_type, cli11_type)


def option_label(opt):
    names = opt['names']
    if opt['positional']:
        label = '\\fI' + roff(names) + '\\fR'
    else:
        label = '\\fB' + roff(names.replace(',', ', ')) + '\\fR'
        if opt['type']:
            label += ' \\fI' + roff(metavariable(opt['type'])) + '\\fR'
    return label


def option_roff(opt):
    facts = []
    if opt['required']:
        facts.append('required')
    if opt['repeatable'] and 'repeatable' not in opt['description']:
        facts.append('repeatable')
    if opt['default']:
        facts.append('default ' + opt['default'])
    text = opt['description'] + (' (' + ', '.join(facts) + ')' if facts else '')
    return ['.TP', option_label(opt), roff(text)]


def commands_roff(app, path=()):
    lines = []
    for sub in app['subcommands']:
        here = path + (sub['name'],)
        if sub['options'] or not sub['subcommands']:
            lines += ['.SS ' + roff(' '.join(here)), roff(sub['description'])]
            for opt in sub['options']:
                lines += option_roff(opt)
        lines += commands_roff(sub, here)
    return lines


def main():
    ap = argparse.ArgumentParser()
    for name in ('schema-dump', 'binary', 'templates', 'out', 'version', 'confdir'):
        ap.add_argument('--' + name, required=True)
    args = ap.parse_args()
    schema = json.loads(subprocess.run([args.schema_dump], check=True, capture_output=True,
                                       text=True).stdout)
    cli = json.loads(subprocess.run([args.binary, '--cli-reference'], check=True,
                                    capture_output=True, text=True).stdout)
    templates = pathlib.Path(args.templates)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pages = {
        'marketplace-milter.8': '\n'.join(commands_roff(cli)),
        'marketplace-milter.yaml.5': keys_roff(schema['config']),
        'marketplace-milter-policy.5': keys_roff(schema['policy']),
    }
    for page, generated in pages.items():
        text = (templates / (page + '.in')).read_text()
        text = (text.replace('@COMMANDS@', generated).replace('@KEYS@', generated)
                .replace('@VERSION@', args.version)
                .replace('@CONFIG@', roff(args.confdir + '/marketplace-milter.yaml'))
                .replace('@CONFDIR@', roff(args.confdir)))
        (out / page).write_text(text)


if __name__ == '__main__':
    main()
