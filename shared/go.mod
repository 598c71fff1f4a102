module healthprep.dev/shared

go 1.26
