# Prints which libuv.so is mapped in the parent process (cmake).
p=$PPID
echo "libuv: $(awk '$6 ~ /\/libuv\.so/ { print $6 }' /proc/$p/maps | sort -u | tr '\n' ' ')"
