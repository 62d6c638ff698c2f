# busybox httpd, wget and nc talking over 127.0.0.1 (run with busybox sh).
set -e
bb=/bin/busybox
mkdir -p /tmp/bbnet/www
echo "hello from httpd" > /tmp/bbnet/www/index.html
$bb httpd -f -p 127.0.0.1:18080 -h /tmp/bbnet/www &
httpd=$!
i=0
until $bb wget -q -O /tmp/bbnet/got http://127.0.0.1:18080/index.html 2>/dev/null; do
    i=$((i + 1)); [ $i -lt 100 ] || { echo "httpd never answered"; exit 1; }
    $bb usleep 50000
done
echo "wget: $(cat /tmp/bbnet/got)"
$bb wget -q -O - http://127.0.0.1:18080/missing.html 2>&1 || echo "wget missing: failed as expected"
kill $httpd
wait $httpd 2>/dev/null || true
# The listener's stdin stays open (a fifo this shell holds): with /dev/null it would shut down
# its side at once, and a client whose stdin is not ready yet would see that EOF and leave
# before sending its line.
mkfifo /tmp/bbnet/hold
$bb nc -l -p 18081 < /tmp/bbnet/hold > /tmp/bbnet/nc.out &
nc=$!
exec 3> /tmp/bbnet/hold
i=0
until echo "line through nc" | $bb nc 127.0.0.1 18081 2>/dev/null; do
    i=$((i + 1)); [ $i -lt 100 ] || { echo "nc never listened"; exit 1; }
    $bb usleep 50000
done
wait $nc || true
exec 3>&-
echo "nc: $(cat /tmp/bbnet/nc.out)"
rm -rf /tmp/bbnet
