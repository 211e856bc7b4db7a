#!/usr/bin/env python3
"""Test: the manual pages document every key the loaders accept and every
subcommand and option of the command line, each key with a type and a
description; and groff renders every page without a warning.

    check_man.py --schema-dump BIN --binary BIN --pages DIR
"""
import argparse
import json
import pathlib
import shutil
import subprocess
import sys

from make_man import key_entries, roff


def run_json(*cmd):
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)


def undocumented_keys(keys, page_text, page):
    problems = []
    lines = set(page_text.splitlines())
    for path, key in key_entries(keys):
        if not key['type'].strip() or not key['description'].strip():
            problems.append(f'{page}: key {path} has no type or description in its schema table')
        if '.B ' + roff(path) not in lines:
            problems.append(f'{page}: key {path} is missing')
    return problems


def undocumented_options(app, page_text, path=()):
    problems = []
    for sub in app['subcommands']:
        here = path + (sub['name'],)
        if sub['options'] and '.SS ' + roff(' '.join(here)) not in page_text:
            problems.append(f'marketplace-milter.8: subcommand {" ".join(here)} is missing')
        for opt in sub['options']:
            if not opt['description'].strip():
                problems.append(f'{" ".join(here)} {opt["names"]}: no description')
            if roff(opt['names'].replace(',', ', ')) not in page_text:
                problems.append(f'marketplace-milter.8: {" ".join(here)} {opt["names"]} is missing')
        problems += undocumented_options(sub, page_text, here)
    return problems


def groff_warnings(page):
    if shutil.which('groff') is None:
        return []
    r = subprocess.run(['groff', '-man', '-ww', '-z', str(page)], capture_output=True, text=True)
    return [f'{page.name}: groff: {line}' for line in r.stderr.splitlines()]


def main():
    ap = argparse.ArgumentParser()
    for name in ('schema-dump', 'binary', 'pages'):
        ap.add_argument('--' + name, required=True)
    args = ap.parse_args()
    pages = pathlib.Path(args.pages)
    schema = run_json(args.schema_dump)
    cli = run_json(args.binary, '--cli-reference')
    problems = []
    for section, page in (('config', 'marketplace-milter.yaml.5'),
                          ('policy', 'marketplace-milter-policy.5')):
        problems += undocumented_keys(schema[section], (pages / page).read_text(), page)
    problems += undocumented_options(cli, (pages / 'marketplace-milter.8').read_text())
    for page in sorted(pages.iterdir()):
        problems += groff_warnings(page)
    keys = sum(1 for s in ('config', 'policy') for _ in key_entries(schema[s]))
    for p in problems:
        print(p)
    print(f'{keys} keys checked, {len(problems)} problems')
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
