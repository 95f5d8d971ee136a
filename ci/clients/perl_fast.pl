#!/usr/bin/perl
# Cache::Memcached::Fast (text protocol): get, get_multi, gets.
# Usage: perl_fast.pl HOST:PORT. Exits non-zero on any wrong answer.
use strict;
use warnings;
use Cache::Memcached::Fast;
use Math::BigInt;

my $server = shift or die "usage: $0 HOST:PORT\n";
my $mc = Cache::Memcached::Fast->new({ servers => [$server], connect_timeout => 2,
                                       io_timeout => 5 });
my @ids;
my $last = Math::BigInt->new(-1);
my $limit = Math::BigInt->new("9223372036854775807");

sub check_id {
  my ($what, $v) = @_;
  die "$what: no id\n" unless defined $v;
  die "$what: not a decimal uint64: '$v'\n" unless $v =~ /^[0-9]{1,20}$/;
  my $n = Math::BigInt->new($v);
  die "$what: $v has bit 63 set\n" if $n > $limit;
  die "$what: $v does not increase (after $last)\n" unless $n > $last;
  $last = $n;
  push @ids, $v;
}

check_id("get", $mc->get("a"));
my $multi = $mc->get_multi("k1", "k2", "k3");
die "get_multi: want 3 keys\n" unless ref $multi eq 'HASH' && keys %$multi == 3;
# The server issues ids in the order of the keys it was sent; the client may
# not keep that order, so check the set as a whole and then move on.
my @sorted = sort { Math::BigInt->new($a) <=> Math::BigInt->new($b) } values %$multi;
check_id("get_multi", $_) for @sorted;
my $g = $mc->gets("c");
die "gets: no reply\n" unless ref $g eq 'ARRAY';
my ($cas, $value) = @$g;
check_id("gets", $value);
die "gets: cas $cas is not the id $value\n" unless "$cas" eq "$value";
print "perl Cache::Memcached::Fast: ", scalar(@ids), " ids ok\n";
