package bench

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// pidCPU returns the CPU time of process pid from /proc/PID/stat, in
// seconds (clock ticks of 1/100 s, the Linux default USER_HZ).
func pidCPU(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces; fields count from after its ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("bench: bad /proc/%d/stat", pid)
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("bench: short /proc/%d/stat", pid)
	}
	// After ')': state(0) ... utime is field 14 overall, index 11 here.
	ut, err1 := strconv.ParseUint(string(f[11]), 10, 64)
	st, err2 := strconv.ParseUint(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bench: bad times in /proc/%d/stat", pid)
	}
	return float64(ut+st) / 100, nil
}
