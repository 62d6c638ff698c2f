set -e
d=${TMPDIR:-/tmp}/gvisor-coreutils-$$; mkdir -p $d/a/b && cd $d
echo one > a/1.txt; echo two > a/b/2.txt
cp -r a c; mv c/1.txt c/one.txt; rm c/b/2.txt; rmdir c/b
find . | sort
tar czf $d.tgz a; mkdir x; cd x; tar xzf $d.tgz; find . -type f | sort; cat a/b/2.txt
sha256sum a/1.txt | cut -c1-16
date +%Y >/dev/null && echo date-ok
sleep 0.1 && echo slept
ln -s a/1.txt l; readlink l; cat l; ln a/1.txt h; stat -c '%h' h
chmod 600 h; stat -c '%a' h
cd /; rm -rf $d $d.tgz
