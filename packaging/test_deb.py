#!/usr/bin/env python3
"""Test: the Debian package builds, installs, works and purges cleanly.

    test_deb.py --source DIR --build-dir DIR            package that build (fast)
    test_deb.py --source DIR --build-dir DIR --usr      configure and build a
                                                        -DCMAKE_INSTALL_PREFIX=/usr
                                                        tree in DIR/deb-usr first (long)

Steps: `cpack -G DEB`; the file list (printed), conffiles and Depends checked;
then `dpkg --root` installs it into a root that is this machine's own system
seen through an overlay (upper layer in a temporary directory, in a private
mount namespace: the host is never written, and the package's Depends are met
by the host's libraries).  There it checks the files, the system user and the
HMAC key, runs the installed `marketplace-milter check` on the shipped config
as the daemon's user, makes a store, runs `systemd-analyze verify` on the unit
(when systemd-analyze exists) and purges the package: nothing of it may be
left but the store.  Needs root (mount, chroot).
"""
import argparse
import os
import pathlib
import shutil
import stat
import subprocess
import sys
import tempfile

NAME = 'marketplace-milter'


def run(cmd, **kw):
    print('+', ' '.join(map(str, cmd)), flush=True)
    return subprocess.run(list(map(str, cmd)), check=True, text=True, **kw)


def cache_value(build, key):
    for line in (pathlib.Path(build) / 'CMakeCache.txt').read_text().splitlines():
        if line.startswith(key + ':'):
            return line.split('=', 1)[1]
    raise SystemExit(f'{build}: no {key} in CMakeCache.txt')


def configure_usr_build(source, build):
    """A tree configured for /usr with the targets the package needs built
    (cpack then builds nothing more: the install does not depend on `all`)."""
    env = dict(os.environ, CCACHE_BASEDIR=str(source), CCACHE_NOHASHDIR='1')
    run(['cmake', '-S', source, '-B', build, '-DCMAKE_INSTALL_PREFIX=/usr',
         '-DBUILD_TESTING=OFF', '-DCMAKE_BUILD_TYPE=RelWithDebInfo',
         '-DCMAKE_SKIP_INSTALL_ALL_DEPENDENCY=ON'], env=env)
    run(['cmake', '--build', build, '-j2', '--target', NAME, 'man'], env=env)


def build_package(build):
    out = pathlib.Path(build) / 'deb-out'
    shutil.rmtree(out, ignore_errors=True)
    run(['cpack', '-G', 'DEB', '-B', out], cwd=build, stdout=subprocess.DEVNULL)
    debs = sorted(out.glob('*.deb'))
    if len(debs) != 1:
        raise SystemExit(f'expected one .deb in {out}, found {debs}')
    return debs[0]


class Layout:
    """Where the package's files are, for the build's install prefix."""

    def __init__(self, prefix):
        self.prefix = prefix
        sysconf = '/etc' if prefix == '/usr' else prefix + '/etc'
        self.confdir = f'{sysconf}/{NAME}'
        self.binary = f'{prefix}/sbin/{NAME}'
        self.config = f'{self.confdir}/{NAME}.yaml'
        self.unit = f'{prefix}/lib/systemd/system/{NAME}.service'
        self.expected = [
            self.binary, self.config, f'{self.confdir}/policy.yaml', self.unit,
            f'{prefix}/lib/sysusers.d/{NAME}.conf', f'{prefix}/lib/tmpfiles.d/{NAME}.conf',
            f'{sysconf}/logrotate.d/{NAME}', f'{prefix}/share/man/man8/{NAME}.8',
            f'{prefix}/share/man/man5/{NAME}.yaml.5', f'{prefix}/share/man/man5/{NAME}-policy.5',
            f'{prefix}/share/doc/{NAME}/examples/postfix/main.cf.snippet',
        ]
        self.conffiles = [self.config, f'{self.confdir}/policy.yaml', f'{self.confdir}/concepts.yaml',
                          f'{self.confdir}/models/promo.marketing.tsv',
                          f'{sysconf}/logrotate.d/{NAME}']


def check_package(deb, layout, problems):
    listing = run(['dpkg-deb', '-c', deb], capture_output=True).stdout
    print(f'--- {deb.name}: files')
    print(listing, end='')
    files = {line.split()[-1].lstrip('.') for line in listing.splitlines()}
    for path in layout.expected:
        if path not in files:
            problems.append(f'package lacks {path}')
    info = run(['dpkg-deb', '-f', deb, 'Depends'], capture_output=True).stdout
    print(f'--- Depends: {info.strip()}')
    for lib in ('libgmime-3.0', 'libmagic', 'libsqlite3', 'libre2', 'libyaml-cpp', 'libmilter'):
        if lib not in info:
            problems.append(f'Depends lacks {lib} (dpkg-shlibdeps)')
    with tempfile.TemporaryDirectory() as ctrl:
        run(['dpkg-deb', '-e', deb, ctrl])
        conffiles = (pathlib.Path(ctrl) / 'conffiles').read_text().split()
    if sorted(conffiles) != sorted(layout.conffiles):
        problems.append(f'conffiles {conffiles}, expected {layout.conffiles}')


def in_root(root, *cmd, user=None, **kw):
    spec = ['--userspec', f'{user}:{user}'] if user else []
    return run(['chroot', *spec, root, *cmd], **kw)


def leftovers(upper):
    """The package's paths in the overlay's upper layer (whiteouts are deletions)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(upper):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                continue
            rel = '/' + os.path.relpath(path, upper)
            # dpkg's own records, and man-db's cache of the pages that
            # systemd-analyze verify formatted (not the package's files).
            if NAME in rel and not rel.startswith(('/var/lib/dpkg/', '/var/cache/man/')):
                found.append(rel)
    return sorted(found)


def install_and_purge(deb, layout, work, problems):
    """Runs in a private mount namespace (see main)."""
    upper, lower_work, root = (work / d for d in ('upper', 'work', 'root'))
    for d in (upper, lower_work, root):
        d.mkdir()
    run(['mount', '-t', 'overlay', 'overlay', '-o',
         f'lowerdir=/,upperdir={upper},workdir={lower_work}', root])
    for fs in ('proc', 'sys', 'dev'):
        run(['mount', '--rbind', f'/{fs}', root / fs])
    # A /run of its own, without /run/systemd/system: the scripts do not
    # talk to a service manager that is not this root's.
    run(['mount', '-t', 'tmpfs', 'tmpfs', root / 'run'])
    run(['mount', '-t', 'tmpfs', 'tmpfs', root / 'tmp'])
    # The package's debs are under `work`, which the overlay shows too.
    deb_in_root = '/' + os.path.relpath(deb, '/')

    # Purge whatever an earlier run of this machine may have installed.
    run(['dpkg', '--root', root, '--purge', NAME], stdout=subprocess.DEVNULL)
    run(['dpkg', '--root', root, '-i', deb_in_root])

    for path in layout.expected:
        if not (root / path.lstrip('/')).exists():
            problems.append(f'not installed: {path}')
    passwd = in_root(root, 'getent', 'passwd', NAME, capture_output=True).stdout
    print('--- user:', passwd.strip())
    if '/usr/sbin/nologin' not in passwd:
        problems.append(f'system user: {passwd!r}')
    key = root / layout.confdir.lstrip('/') / 'hmac.key'
    st = key.stat()
    if stat.S_IMODE(st.st_mode) != 0o640 or len(key.read_text()) != 64:
        problems.append(f'hmac.key: mode {oct(st.st_mode)}, {len(key.read_text())} characters')
    for d in (f'/run/{NAME}', f'/var/lib/{NAME}', f'/var/lib/{NAME}/spool', f'/var/log/{NAME}'):
        p = root / d.lstrip('/')
        if not p.is_dir() or stat.S_IMODE(p.stat().st_mode) != 0o750:
            problems.append(f'directory {d} missing or not 0750')

    # The shipped config, checked by the installed binary as the daemon's user.
    check = subprocess.run(['chroot', '--userspec', f'{NAME}:{NAME}', str(root), layout.binary,
                            'check', '-c', layout.config], capture_output=True, text=True)
    print('--- check:', check.returncode, check.stdout.strip(), check.stderr.strip())
    if check.returncode != 0:
        problems.append(f'marketplace-milter check of the shipped config: {check.stderr.strip()}')
        return
    version = in_root(root, layout.binary, '--version', capture_output=True)
    print('--- version:\n' + version.stdout.strip())
    # A store, which purge must keep.
    in_root(root, layout.binary, 'party', 'add', '-c', layout.config, '--id', 'b1', '--role',
            'buyer', '--address', 'bob@example.org', user=NAME, stdout=subprocess.DEVNULL)
    if shutil.which('systemd-analyze'):
        # In the root, so that the Documentation= man pages and ExecStart=
        # are looked up where the package put them.
        verify = subprocess.run(['chroot', str(root), 'systemd-analyze', 'verify', layout.unit],
                                capture_output=True, text=True)
        print('--- systemd-analyze verify:', verify.returncode, verify.stderr.strip())
        if verify.returncode != 0:
            problems.append('systemd-analyze verify: ' + verify.stderr.strip())
    else:
        print('--- systemd-analyze not installed: unit not verified')

    run(['dpkg', '--root', root, '--purge', NAME])
    left = leftovers(upper)
    print('--- left after purge:', left)
    store = f'/var/lib/{NAME}'
    unexpected = [p for p in left if p != store and not p.startswith(store + '/store.db')]
    if unexpected:
        problems.append(f'left after purge: {unexpected}')
    if f'{store}/store.db' not in left:
        problems.append('purge removed the store')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--source', required=True)
    ap.add_argument('--build-dir', required=True)
    ap.add_argument('--usr', action='store_true')
    ap.add_argument('--inside', help=argparse.SUPPRESS)
    args = ap.parse_args()
    if os.geteuid() != 0:
        print('SKIP: needs root (mount, chroot, dpkg --root)')
        return 77
    build = pathlib.Path(args.build_dir).resolve()
    if args.inside:
        deb, work = args.inside.split(':')
        problems = []
        install_and_purge(pathlib.Path(deb), Layout(cache_value(build, 'CMAKE_INSTALL_PREFIX')),
                          pathlib.Path(work), problems)
        for p in problems:
            print('PROBLEM:', p)
        return 1 if problems else 0

    if args.usr:
        source = pathlib.Path(args.source).resolve()
        configure_usr_build(source, build / 'deb-usr')
        build = build / 'deb-usr'
    layout = Layout(cache_value(build, 'CMAKE_INSTALL_PREFIX'))
    deb = build_package(build)
    problems = []
    check_package(deb, layout, problems)
    with tempfile.TemporaryDirectory(dir=build) as work:
        inside = subprocess.run(['unshare', '-m', '--propagation', 'private', sys.executable,
                                 __file__, '--source', args.source, '--build-dir', str(build),
                                 '--inside', f'{deb}:{work}'])
        if inside.returncode != 0:
            problems.append('install/purge in the overlay root failed (above)')
    for p in problems:
        print('PROBLEM:', p)
    print(f'{deb.name}: {"ok" if not problems else "FAILED"}')
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
