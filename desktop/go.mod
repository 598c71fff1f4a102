module healthprep.dev/desktop

go 1.26
