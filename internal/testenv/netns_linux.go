package testenv

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
	"unsafe"
)

// reexecInNetns runs os.Args again in a new network namespace, as root
// directly, else inside a new user namespace that maps the caller to root.
func reexecInNetns() (int, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, err
	}
	attrs := []*syscall.SysProcAttr{{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}}
	if os.Geteuid() != 0 {
		attrs = nil
	}
	attrs = append(attrs, &syscall.SysProcAttr{
		Cloneflags:                 syscall.CLONE_NEWNET | syscall.CLONE_NEWUSER,
		UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}},
		GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}},
		GidMappingsEnableSetgroups: false,
		Pdeathsig:                  syscall.SIGKILL,
	})
	var errs []error
	for _, attr := range attrs {
		cmd := exec.Command(exe, os.Args[1:]...)
		cmd.Args[0] = os.Args[0]
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		cmd.Env = append(os.Environ(), childEnv+"=1")
		cmd.SysProcAttr = attr
		if err := cmd.Start(); err != nil {
			errs = append(errs, err)
			continue
		}
		err := cmd.Wait()
		var exit *exec.ExitError
		switch {
		case err == nil:
			return 0, nil
		case errors.As(err, &exit) && exit.ExitCode() >= 0:
			return exit.ExitCode(), nil
		default: // killed by a signal, or lost: the tests did not pass
			os.Stderr.WriteString("testenv: test binary in the network namespace: " + err.Error() + "\n")
			return 1, nil
		}
	}
	return 0, errors.Join(errs...)
}

// loopbackUp sets the IFF_UP flag of lo, as `ip link set lo up` does.
func loopbackUp() error {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	var ifr struct {
		name  [syscall.IFNAMSIZ]byte
		flags uint16
		_     [22]byte // the rest of struct ifreq's union
	}
	copy(ifr.name[:], "lo")
	if err := ioctl(fd, syscall.SIOCGIFFLAGS, unsafe.Pointer(&ifr)); err != nil {
		return err
	}
	if ifr.flags&syscall.IFF_UP != 0 {
		return nil
	}
	ifr.flags |= syscall.IFF_UP
	return ioctl(fd, syscall.SIOCSIFFLAGS, unsafe.Pointer(&ifr))
}

func ioctl(fd int, req uintptr, arg unsafe.Pointer) error {
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), req, uintptr(arg)); e != 0 {
		return e
	}
	return nil
}
