# Ruby Dalli (memcached binary protocol): get, get_multi.
# Usage: ruby dalli_client.rb HOST:PORT
require 'dalli'

server = ARGV.fetch(0)
client = Dalli::Client.new(server, socket_timeout: 5, socket_max_failures: 1, down_retry_delay: 0)
last = -1
count = 0
check = lambda do |what, raw|
  abort "#{what}: no id" if raw.nil?
  text = raw.to_s
  abort "#{what}: not a decimal id: #{text.inspect}" unless text =~ /\A[0-9]{1,20}\z/
  v = Integer(text, 10)
  abort "#{what}: #{v} has bit 63 set" if v >= 2**63
  abort "#{what}: #{v} does not increase (after #{last})" unless v > last
  last = v
  count += 1
end

check.call('get', client.get('a'))
many = client.get_multi('k1', 'k2', 'k3')
abort "get_multi: want 3 keys, got #{many.inspect}" unless many.size == 3
many.values.map(&:to_s).sort_by { |s| Integer(s, 10) }.each { |v| check.call('get_multi', v) }
puts "ruby dalli (binary): #{count} ids ok"
